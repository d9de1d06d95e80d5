-- One projection engine: every projection's position is one row of gridflow_tracking,
-- taken over from the tables each projection kept before (the audit head keeps the
-- chain's state, and its position as the chain's own record).
-- depends: 0001.side-tables
CREATE TABLE IF NOT EXISTS gridflow_tracking (
    projection TEXT NOT NULL, generation BIGINT NOT NULL, position BIGINT NOT NULL,
    PRIMARY KEY (projection, generation));

-- `WHERE` before `ON CONFLICT`: SQLite would read it as a join's ON otherwise.
INSERT INTO gridflow_tracking (projection, generation, position)
    SELECT 'views', generation, position FROM gridflow_view_positions WHERE 1 = 1
    ON CONFLICT (projection, generation) DO NOTHING;

INSERT INTO gridflow_tracking (projection, generation, position)
    SELECT 'outbox', 0, position FROM gridflow_outbox_position WHERE id = 1
    ON CONFLICT (projection, generation) DO NOTHING;

INSERT INTO gridflow_tracking (projection, generation, position)
    SELECT 'audit', 0, position FROM gridflow_audit_head WHERE id = 1
    ON CONFLICT (projection, generation) DO NOTHING;

DROP TABLE gridflow_view_positions;

DROP TABLE gridflow_outbox_position;
