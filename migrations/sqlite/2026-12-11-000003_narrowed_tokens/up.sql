-- A token made to carry only some of its holder's permissions: their names,
-- one space apart. None: everything the holder's role allows.
ALTER TABLE api_tokens ADD COLUMN permissions TEXT;
