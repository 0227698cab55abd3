-- 0002: goals, plans and tasks. agent_id becomes NULL when its agent is deleted.
CREATE TABLE mcp_documents.goals (
  goal_id                text PRIMARY KEY,
  seq                    bigint GENERATED ALWAYS AS IDENTITY,
  agent_id               uuid REFERENCES mcp_documents.agents (id) ON DELETE SET NULL,
  agent_did              text,
  goal_text              text NOT NULL,
  goal_type              text NOT NULL DEFAULT 'compound',
  status                 text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'active', 'in_progress', 'completed', 'failed', 'cancelled')),
  priority               integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
  success_criteria       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(success_criteria) = 'array'),
  metadata               jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  parent_goal_id         text,
  decomposition_strategy text,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX goals_seq_idx ON mcp_documents.goals (seq DESC);
CREATE INDEX goals_agent_idx ON mcp_documents.goals (agent_id, seq DESC);
CREATE INDEX goals_status_idx ON mcp_documents.goals (status, seq DESC);

CREATE TABLE mcp_documents.plans (
  plan_id          text PRIMARY KEY,
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  goal_id          text,
  agent_id         uuid REFERENCES mcp_documents.agents (id) ON DELETE SET NULL,
  status           text NOT NULL DEFAULT 'draft'
                   CHECK (status IN ('draft', 'active', 'completed', 'failed', 'cancelled')),
  tasks            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tasks) = 'array'),
  dependency_graph jsonb NOT NULL DEFAULT '{}',
  metadata         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- plan_id is free text: a task may name a plan that has no row.
CREATE TABLE mcp_documents.tasks (
  task_id      text PRIMARY KEY,
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  plan_id      text NOT NULL,
  agent_id     uuid REFERENCES mcp_documents.agents (id) ON DELETE SET NULL,
  name         text NOT NULL,
  description  text,
  task_type    text NOT NULL DEFAULT 'atomic',
  status       text NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'running', 'completed', 'failed', 'blocked', 'skipped')),
  inputs       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(inputs) = 'object'),
  outputs      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(outputs) = 'object'),
  metadata     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  completed_at timestamptz
);
CREATE INDEX tasks_seq_idx ON mcp_documents.tasks (seq DESC);
CREATE INDEX tasks_plan_idx ON mcp_documents.tasks (plan_id, seq DESC);
CREATE INDEX tasks_agent_idx ON mcp_documents.tasks (agent_id, seq DESC);
CREATE INDEX tasks_status_idx ON mcp_documents.tasks (status, seq DESC);
