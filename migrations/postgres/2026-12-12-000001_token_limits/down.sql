DROP TRIGGER auth_change_token_limits ON api_tokens;
ALTER TABLE api_tokens DROP COLUMN rate;
ALTER TABLE api_tokens DROP COLUMN networks;
