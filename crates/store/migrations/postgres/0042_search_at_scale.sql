-- Search at 100k conversations / 1M messages (issue 17). A search keeps the
-- newest matches of each kind, read newest first or through an index
-- (crates/store/src/search.rs). The queries name these functions and the
-- `search` column, never the expressions behind them.

-- Accents folded, as SQLite's tokenizer does: "cafe" finds "café". The
-- `unaccent` extension is trusted (PostgreSQL 13+), so the database's owner
-- may create it; where it cannot be created, accents are folded by a fixed
-- table of Latin letters instead (docs/decisions.md, "Accents in search").
-- Every name inside the functions is qualified with this schema, so they
-- work under any search_path (pg_dump restores with an empty one).
DO $do$
DECLARE
    here text := current_schema();
    unaccent_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'textdesk: the unaccent extension could not be created (%); search folds accents with a fixed table', SQLERRM;
    END;
    SELECT n.nspname INTO unaccent_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
    -- The 'simple' configuration (no stemming: every language alike), with
    -- unaccent before it when there is one.
    CREATE TEXT SEARCH CONFIGURATION textdesk_search (COPY = pg_catalog.simple);
    IF unaccent_schema IS NOT NULL THEN
        EXECUTE format(
            'ALTER TEXT SEARCH CONFIGURATION textdesk_search ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart WITH %I.unaccent, pg_catalog.simple',
            unaccent_schema);
        CREATE FUNCTION textdesk_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
            AS $f$ SELECT t $f$;
    ELSE
        CREATE FUNCTION textdesk_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $f$
            SELECT pg_catalog.translate(t,
                'ÀÁÂÃÄÅàáâãäåĀāĂăĄąÇçĆćĈĉĊċČčĎďĐđÈÉÊËèéêëĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħÌÍÎÏìíîïĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľĿŀŁłÑñŃńŅņŇňÒÓÔÕÖØòóôõöøŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųŴŵÝýÿŶŷŸŹźŻżŽž',
                'AAAAAAaaaaaaAaAaAaCcCcCcCcCcDdDdEEEEeeeeEeEeEeEeEeGgGgGgGgHhHhIIIIiiiiIiIiIiIiIiJjKkLlLlLlLlLlNnNnNnNnOOOOOOooooooOoOoOoRrRrRrSsSsSsSsTtTtTtUUUUuuuuUuUuUuUuUuUuWwYyyYyYZzZzZz')
        $f$;
    END IF;
    EXECUTE format(
        'CREATE FUNCTION textdesk_tsvector(t text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
         AS $f$ SELECT pg_catalog.to_tsvector(%1$L::regconfig, %2$I.textdesk_fold(t)) $f$',
        here || '.textdesk_search', here);
    EXECUTE format(
        'CREATE FUNCTION textdesk_tsquery(q text) RETURNS tsquery LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
         AS $f$ SELECT pg_catalog.to_tsquery(%1$L::regconfig, %2$I.textdesk_fold(q)) $f$',
        here || '.textdesk_search', here);
END
$do$;

-- Messages: the words stored beside the body, so reading the newest messages
-- for a common word tests each row without parsing it again.
DROP INDEX messages_body_search;
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (textdesk_tsvector(body)) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);
DROP INDEX contacts_name_search;
CREATE INDEX contacts_name_search ON contacts USING GIN (textdesk_tsvector(name));

-- Digits anywhere in an address: each address's three-digit pieces in a GIN
-- index; a search needs every piece of its digits, then LIKE checks the order.
CREATE FUNCTION textdesk_digit_trigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $f$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT g), '{}')
    FROM (SELECT pg_catalog.substr(t, i, 3) AS g FROM pg_catalog.generate_series(1, pg_catalog.length(t) - 2) AS i) pieces
    WHERE g ~ '^[0-9]{3}$'
$f$;
CREATE INDEX contact_identities_digits ON contact_identities USING GIN (textdesk_digit_trigrams(address));
