-- Where a token may be used from: networks in CIDR form, one space apart.
-- None: anywhere.
ALTER TABLE api_tokens ADD COLUMN networks TEXT;
-- How often a service account's key may be used on each server: `600/min`.
-- None: as often as the servers answer.
ALTER TABLE api_tokens ADD COLUMN rate TEXT;

-- A change to either changes the token check's answers, as a revocation does.
CREATE TRIGGER auth_change_token_limits AFTER UPDATE OF networks, rate ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION record_auth_change();
