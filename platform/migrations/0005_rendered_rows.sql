-- 0005: every row keeps its API JSON in doc, rendered by a trigger whenever the row is written
-- (by the API, by SQL, by ON DELETE SET NULL). A list page is then its rows' doc texts joined:
-- PostgreSQL renders a row once per write instead of once per read, and a page of 100 rows
-- cost about ten times more to render than to read.
--
-- The JSON has the table's columns in table order, seq and doc left out, timestamps as
-- ISO 8601 UTC with Z, JSONB as JSON. mcp_documents.render_docs(table) writes the table's
-- trigger function from its columns and renders every row: a later migration that adds a
-- column the API shows calls it again.
CREATE FUNCTION mcp_documents.render_docs(tbl text) RETURNS void LANGUAGE plpgsql AS $render$
DECLARE
  fields text;
BEGIN
  SELECT string_agg(
           CASE WHEN a.atttypid = 'timestamptz'::regtype
             THEN format('to_char(NEW.%1$I AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'') AS %1$I', a.attname)
             ELSE format('NEW.%1$I AS %1$I', a.attname)
           END, ', ' ORDER BY a.attnum)
    INTO fields
    FROM pg_attribute a
   WHERE a.attrelid = format('mcp_documents.%I', tbl)::regclass
     AND a.attnum > 0 AND NOT a.attisdropped AND a.attname NOT IN ('seq', 'doc');
  EXECUTE format($f$ALTER TABLE mcp_documents.%I ADD COLUMN IF NOT EXISTS doc text$f$, tbl);
  EXECUTE format($f$CREATE OR REPLACE FUNCTION mcp_documents.%I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      NEW.doc := (SELECT row_to_json(r)::text FROM (SELECT %s) r);
      RETURN NEW;
    END $fn$$f$, tbl || '_doc', fields);
  -- DROP and CREATE rather than CREATE OR REPLACE TRIGGER, which PostgreSQL 13 does not have.
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON mcp_documents.%I', tbl || '_doc', tbl);
  EXECUTE format($f$CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON mcp_documents.%I
    FOR EACH ROW EXECUTE FUNCTION mcp_documents.%I()$f$, tbl || '_doc', tbl, tbl || '_doc');
  -- The trigger renders each row again; no status changes, so the row counts stay as they are.
  EXECUTE format('UPDATE mcp_documents.%I SET doc = NULL', tbl);
  EXECUTE format('ALTER TABLE mcp_documents.%I ALTER COLUMN doc SET NOT NULL', tbl);
END $render$;

SELECT mcp_documents.render_docs(t) FROM unnest(ARRAY['agents', 'goals', 'plans', 'tasks']) t;
