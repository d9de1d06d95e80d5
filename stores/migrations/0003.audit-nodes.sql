-- The perfect subtrees of the audit Merkle tree above the leaves (level >= 1; level 0
-- is gridflow_audit_leaves): a proof or a root at any size reads O(log n) of them.
-- Derived from the leaves: a store of earlier code gets them filled in by the audit
-- chain on its next step (projections.audit.AuditLog.fill_nodes), so they are not part
-- of the append-only set (a proof is checked against signed roots anyway).
-- depends: 0002.tracking
CREATE TABLE IF NOT EXISTS gridflow_audit_nodes (
    level INTEGER NOT NULL, idx BIGINT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (level, idx));
