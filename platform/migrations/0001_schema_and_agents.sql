-- 0001: the mcp_documents schema and the agents table.
CREATE SCHEMA IF NOT EXISTS mcp_documents;

CREATE TABLE mcp_documents.agents (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq             bigint GENERATED ALWAYS AS IDENTITY,
  did             text NOT NULL UNIQUE,
  name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
  agent_type      text NOT NULL DEFAULT 'general',
  status          text NOT NULL DEFAULT 'created'
                  CHECK (status IN ('created', 'active', 'idle', 'busy', 'suspended', 'terminated', 'error')),
  configuration   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(configuration) = 'object'),
  metadata        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  resource_limits jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(resource_limits) = 'object'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_seq_idx ON mcp_documents.agents (seq DESC);
CREATE INDEX agents_status_idx ON mcp_documents.agents (status, seq DESC);
