DROP TABLE auth_changes;
DROP FUNCTION record_auth_change() CASCADE;
DROP TABLE introspection_clients;
DROP TABLE api_tokens;
DROP TABLE service_accounts;
