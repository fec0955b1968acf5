-- The audit log as people read it: who acted (and as what, with which
-- credential) and on what, each with a snapshot of name and email, so that an
-- event still reads right after its actor or target is gone. `actor_label`
-- and `target` are the lower-cased keys the filters match: an email address,
-- else a name ("command line" for the operator at a shell).
ALTER TABLE audit_events ADD COLUMN actor_kind TEXT NOT NULL DEFAULT 'user';
ALTER TABLE audit_events ADD COLUMN actor_name TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN actor_email TEXT;
ALTER TABLE audit_events ADD COLUMN credential TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN target_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN target_id TEXT;
ALTER TABLE audit_events ADD COLUMN target_name TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN target_email TEXT;

UPDATE audit_events SET
    actor_kind = CASE
        WHEN actor_label = 'command line' THEN 'command_line'
        WHEN actor_label LIKE 'service account %' THEN 'service_account'
        ELSE 'user' END,
    actor_name = CASE
        WHEN actor_label LIKE 'service account %' THEN substr(actor_label, 17)
        ELSE actor_label END,
    actor_email = CASE WHEN actor_label LIKE '%@%' THEN actor_label END,
    credential = CASE WHEN actor_label = 'command line' THEN 'command line' ELSE '' END,
    target_kind = CASE
        WHEN action LIKE 'member.%' THEN 'member'
        WHEN action LIKE 'invitation.%' THEN 'invitation'
        WHEN action LIKE 'token.%' THEN 'token'
        WHEN action LIKE 'service_account.%' THEN 'service_account'
        ELSE 'organization' END,
    target_name = target,
    target_email = CASE WHEN target LIKE '%@%' THEN target END;
UPDATE audit_events SET
    actor_label = lower(actor_name),
    target = lower(target);

DROP INDEX audit_events_by_org;
CREATE INDEX audit_events_newest ON audit_events (org_id, created_at, id);
CREATE INDEX audit_events_by_action ON audit_events (org_id, action, created_at, id);
CREATE INDEX audit_events_by_actor ON audit_events (org_id, actor_label, created_at, id);
CREATE INDEX audit_events_by_target ON audit_events (org_id, target, created_at, id);
-- No index on the time alone: retention walks each organization's events
-- by `audit_events_newest`, and an index on the time alone tempts the
-- planners to read a single-organization log in an order they must re-sort.

-- Append-only: retention deletes old events, nothing changes one.
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
