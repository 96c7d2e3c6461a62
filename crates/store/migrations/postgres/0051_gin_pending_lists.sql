-- The search indexes keep new rows in a short pending list. A GIN index adds
-- new entries to an unsorted pending list and sorts them in only when the list
-- passes `gin_pending_list_limit` (4 MB by default) or a vacuum runs, and every
-- search reads the whole list: at 1M messages a search that found nothing read
-- 477 + 280 + 163 pending pages of the three indexes, 15 ms of its time.
-- 128 kB bounds that to 16 pages an index; the insert that fills the list
-- sorts it in (docs/decisions.md, "Search indexes keep short pending lists").
ALTER INDEX messages_search SET (gin_pending_list_limit = 128);
ALTER INDEX contacts_name_search SET (gin_pending_list_limit = 128);
ALTER INDEX contact_identities_digits SET (gin_pending_list_limit = 128);
