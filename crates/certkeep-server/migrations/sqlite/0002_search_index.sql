-- Substring search over name, domains, subject and issuer at a million rows: an FTS5 trigram
-- index over certificates.search_text (kept in step by triggers), which answers LIKE '%…%'
-- for patterns of three characters or more without scanning the table.
CREATE VIRTUAL TABLE certificates_fts USING fts5(
    search_text,
    content = 'certificates',
    content_rowid = 'rowid',
    tokenize = 'trigram'
);
INSERT INTO certificates_fts (rowid, search_text) SELECT rowid, search_text FROM certificates;

CREATE TRIGGER certificates_fts_insert AFTER INSERT ON certificates
BEGIN
    INSERT INTO certificates_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER certificates_fts_delete AFTER DELETE ON certificates
BEGIN
    INSERT INTO certificates_fts (certificates_fts, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER certificates_fts_update AFTER UPDATE OF search_text ON certificates
BEGIN
    INSERT INTO certificates_fts (certificates_fts, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO certificates_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
