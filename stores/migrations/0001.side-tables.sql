-- The side tables as the release before versioned migrations left them: what the log
-- cannot rebuild (tokens, idempotency keys, subject keys, evidence, subscriptions and
-- the outbox, the audit chain, set-aside events, the rate limit) and the projections'
-- bookkeeping. Every statement keeps what a store of that release already holds, so
-- this also runs on such a store: it adds only what is missing.
CREATE TABLE IF NOT EXISTS gridflow_tokens (
    token_hash TEXT PRIMARY KEY, principal_id TEXT NOT NULL, role TEXT NOT NULL,
    scope TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT);

CREATE TABLE IF NOT EXISTS gridflow_idempotency (
    principal_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, headers TEXT NOT NULL,
    created_at TEXT NOT NULL, PRIMARY KEY (principal_id, idem_key));

CREATE TABLE IF NOT EXISTS gridflow_subject_keys (
    subject TEXT PRIMARY KEY, subject_key TEXT, created_at TEXT NOT NULL, erased_at TEXT);

CREATE TABLE IF NOT EXISTS gridflow_subject_key_check (
    id BIGINT PRIMARY KEY, fingerprint TEXT NOT NULL, created_at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS gridflow_evidence (
    sha256 TEXT NOT NULL, issue_id TEXT NOT NULL, uploaded_by TEXT NOT NULL,
    content_type TEXT NOT NULL, size BIGINT NOT NULL, filename TEXT,
    exif_time TEXT, exif_lat DOUBLE PRECISION, exif_lon DOUBLE PRECISION,
    uploaded_at TEXT NOT NULL, PRIMARY KEY (sha256, issue_id));

CREATE TABLE IF NOT EXISTS gridflow_rate (
    principal_id TEXT NOT NULL, window_start BIGINT NOT NULL, hits BIGINT NOT NULL,
    PRIMARY KEY (principal_id, window_start));

CREATE TABLE IF NOT EXISTS gridflow_quarantine (
    projection TEXT NOT NULL, generation BIGINT NOT NULL, position BIGINT NOT NULL,
    event_id TEXT NOT NULL, version BIGINT NOT NULL, topic TEXT NOT NULL,
    error TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (projection, generation, position));

CREATE TABLE IF NOT EXISTS gridflow_subscriptions (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL,
    filter TEXT NOT NULL, from_position BIGINT NOT NULL, created_at TEXT NOT NULL,
    deleted_at TEXT);

CREATE TABLE IF NOT EXISTS gridflow_outbox (
    subscription_id TEXT NOT NULL, delivery_key TEXT NOT NULL, seq BIGINT NOT NULL,
    issue_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, attempts BIGINT NOT NULL, next_at TEXT NOT NULL,
    delivered_at TEXT, PRIMARY KEY (subscription_id, delivery_key));

CREATE INDEX IF NOT EXISTS gridflow_outbox_due ON gridflow_outbox (status, next_at);

CREATE INDEX IF NOT EXISTS gridflow_outbox_issue ON gridflow_outbox
    (subscription_id, issue_id, status, seq);

CREATE TABLE IF NOT EXISTS gridflow_delivery_attempts (
    subscription_id TEXT NOT NULL, delivery_key TEXT NOT NULL, attempt BIGINT NOT NULL,
    at TEXT NOT NULL, status_code BIGINT, error TEXT,
    PRIMARY KEY (subscription_id, delivery_key, attempt));

CREATE TABLE IF NOT EXISTS gridflow_outbox_position (
    id BIGINT PRIMARY KEY, position BIGINT NOT NULL);

INSERT INTO gridflow_outbox_position (id, position) VALUES (1, 0)
    ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS gridflow_outbox_issues (
    issue_id TEXT PRIMARY KEY, grid_id TEXT NOT NULL, departments TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS gridflow_audit_leaves (
    idx BIGINT PRIMARY KEY, position BIGINT NOT NULL UNIQUE, leaf TEXT NOT NULL,
    chain TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS gridflow_audit_head (
    id BIGINT PRIMARY KEY, size BIGINT NOT NULL, position BIGINT NOT NULL,
    chain TEXT NOT NULL, frontier TEXT NOT NULL);

INSERT INTO gridflow_audit_head (id, size, position, chain, frontier)
    VALUES (1, 0, 0, '0000000000000000000000000000000000000000000000000000000000000000', '[]')
    ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS gridflow_audit_checkpoints (
    tree_size BIGINT PRIMARY KEY, root TEXT NOT NULL, at TEXT NOT NULL, note TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS gridflow_audit_trail (
    position BIGINT PRIMARY KEY, idx BIGINT NOT NULL, issue_id TEXT NOT NULL,
    version BIGINT NOT NULL, action TEXT NOT NULL, actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL, at TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL,
    grid_id TEXT NOT NULL, departments TEXT NOT NULL, data TEXT NOT NULL);

CREATE INDEX IF NOT EXISTS gridflow_audit_trail_issue ON gridflow_audit_trail
    (issue_id, version);

CREATE INDEX IF NOT EXISTS gridflow_audit_trail_actor ON gridflow_audit_trail
    (actor_id, position);

CREATE TABLE IF NOT EXISTS gridflow_view_positions (
    generation BIGINT PRIMARY KEY, position BIGINT NOT NULL);

CREATE TABLE IF NOT EXISTS gridflow_view_generation (
    id BIGINT PRIMARY KEY, active BIGINT NOT NULL);

INSERT INTO gridflow_view_generation (id, active) VALUES (1, 1)
    ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS gridflow_view_schema (
    generation BIGINT PRIMARY KEY, version TEXT NOT NULL);
