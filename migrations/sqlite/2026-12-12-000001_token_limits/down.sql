DROP TRIGGER auth_change_token_limits;
ALTER TABLE api_tokens DROP COLUMN rate;
ALTER TABLE api_tokens DROP COLUMN networks;
