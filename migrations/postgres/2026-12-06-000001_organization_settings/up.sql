-- Organization settings: rename (old slugs answer for 90 days), deletion
-- that can be undone for a while, allowed email domains, ownership transfer,
-- and memberships that end.

-- Deleted organizations keep every row until the worker purges them;
-- deleted_by is the name of who deleted it, as it was; purge_after is
-- when the restore window (ROLLCALL_ORG_RESTORE_DAYS at the time) closes.
ALTER TABLE organizations ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE organizations ADD COLUMN deleted_by TEXT;
ALTER TABLE organizations ADD COLUMN purge_after TIMESTAMP;
CREATE INDEX organizations_to_purge ON organizations (purge_after) WHERE purge_after IS NOT NULL;

-- Every slug in use or reserved: the organization's own (retired_at NULL)
-- and the ones it had (reserved for a while after retired_at). One primary
-- key over both, so a slug cannot be taken while it still answers for
-- someone, however the requests race.
CREATE TABLE organization_slugs (
    slug TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    retired_at TIMESTAMP
);
CREATE INDEX organization_slugs_by_org ON organization_slugs (org_id);
INSERT INTO organization_slugs (slug, org_id) SELECT slug, id FROM organizations;

CREATE TABLE allowed_email_domains (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    PRIMARY KEY (org_id, domain)
);

-- At most one transfer waits per organization; then_role NULL: the former
-- owner leaves once it is confirmed.
CREATE TABLE ownership_transfers (
    org_id TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    from_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    then_role TEXT CHECK (then_role IN ('owner', 'admin', 'developer', 'contributor', 'viewer')),
    created_at TIMESTAMP NOT NULL
);

-- When a membership ends; when its reminder went out; when the worker last
-- told the owners it kept an expired last owner.
ALTER TABLE memberships ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE memberships ADD COLUMN expiry_reminded_at TIMESTAMP;
ALTER TABLE memberships ADD COLUMN expiry_held_at TIMESTAMP;
CREATE INDEX memberships_ending ON memberships (expires_at) WHERE expires_at IS NOT NULL;
ALTER TABLE invitations ADD COLUMN membership_expires_at TIMESTAMP;

-- A rename changes what the token check answers (the slug), and a deletion
-- or restore whether it answers at all.
CREATE TRIGGER auth_change_organization_state AFTER UPDATE OF slug, deleted_at ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION record_auth_change();
