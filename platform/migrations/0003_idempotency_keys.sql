-- 0003: Idempotency-Key records for creates. A record is written in the same statement as
-- the row it created and holds that row's JSON text as it was answered; it is honoured for 24 hours.
CREATE TABLE mcp_documents.idempotency_keys (
  route      text NOT NULL,
  key        text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
  body_hash  text NOT NULL,
  response   text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (route, key)
);
CREATE INDEX idempotency_keys_created_idx ON mcp_documents.idempotency_keys (created_at);
