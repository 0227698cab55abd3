-- 0004: how many rows each table holds per status, kept by triggers in the writing
-- statement's own transaction, so a list with no filter but status knows its total without
-- counting rows. Each statement adds to one of 16 slots, chosen at random, so concurrent
-- writers seldom wait on one another's counter row; a total is the sum of its slots.
CREATE TABLE mcp_documents.row_counts (
  tbl    text     NOT NULL,
  status text     NOT NULL,
  slot   smallint NOT NULL,
  n      bigint   NOT NULL,
  PRIMARY KEY (tbl, status, slot)
);

CREATE FUNCTION mcp_documents.count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  pick smallint := floor(random() * 16);
BEGIN
  -- new_rows and old_rows are the statement's transition tables; a branch reads only those
  -- its operation has (an UPDATE that keeps every status adds nothing). Counter rows are
  -- locked in status order, so two statements never wait on each other in a cycle.
  IF TG_OP = 'INSERT' THEN
    INSERT INTO mcp_documents.row_counts AS c (tbl, status, slot, n)
    SELECT TG_TABLE_NAME, status, pick, count(*) FROM new_rows GROUP BY status ORDER BY status
    ON CONFLICT (tbl, status, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO mcp_documents.row_counts AS c (tbl, status, slot, n)
    SELECT TG_TABLE_NAME, status, pick, -count(*) FROM old_rows GROUP BY status ORDER BY status
    ON CONFLICT (tbl, status, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO mcp_documents.row_counts AS c (tbl, status, slot, n)
    SELECT TG_TABLE_NAME, d.status, pick, sum(d.n)
    FROM (SELECT status, 1 AS n FROM new_rows UNION ALL SELECT status, -1 FROM old_rows) d
    GROUP BY d.status
    HAVING sum(d.n) <> 0
    ORDER BY d.status
    ON CONFLICT (tbl, status, slot) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION mcp_documents.forget_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM mcp_documents.row_counts WHERE tbl = TG_TABLE_NAME;
  RETURN NULL;
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['agents', 'goals', 'plans', 'tasks'] LOOP
    EXECUTE format('INSERT INTO mcp_documents.row_counts SELECT %L, status, 0, count(*) FROM mcp_documents.%I GROUP BY status', t, t);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON mcp_documents.%I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION mcp_documents.count_rows()', t || '_count_insert', t);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON mcp_documents.%I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION mcp_documents.count_rows()', t || '_count_update', t);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON mcp_documents.%I REFERENCING OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION mcp_documents.count_rows()', t || '_count_delete', t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON mcp_documents.%I
      FOR EACH STATEMENT EXECUTE FUNCTION mcp_documents.forget_counts()', t || '_count_truncate', t);
  END LOOP;
END $$;
