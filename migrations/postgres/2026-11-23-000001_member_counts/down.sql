DROP INDEX invitations_by_org_state;
CREATE INDEX invitations_pending_by_org ON invitations (org_id, created_at) WHERE state = 'pending';
DROP TRIGGER memberships_count_update ON memberships;
DROP TRIGGER memberships_count_delete ON memberships;
DROP TRIGGER memberships_count_insert ON memberships;
DROP FUNCTION count_memberships();
DROP TABLE membership_counts;
