-- 005_topics.sql: MQS topics (spec §5), their access policies, and the storage of the embedded message
-- engine "openroma-pg" (services/topic_worker/engine_pg.c).
--
-- Ownership: every row of these tables is written by the topic manager (roma-topic-worker) only; the API
-- reads mqs_topics / mqs_topic_policies to authorise and list, never writes them.
--
-- Topic metadata
-- * A topic is identified by (instance_id, name); id is an internal bigserial that is NEVER reused, so the
--   messages of a deleted topic can be purged in the background while a new topic of the same name
--   already takes traffic under a new id.
-- * The owner app's permission is mqs_topics.access_policy; every other app's is a mqs_topic_policies row.
-- * An app that owns topics cannot be deleted (app_id has no ON DELETE action: DeleteRomaApp gets SQLSTATE
--   23503 and answers 400 ROMA.00014004 "still used"); an app's access policies on other apps' topics die
--   with it. Deleting an instance cascades to its topics. The AFTER DELETE trigger queues a deleted
--   topic's messages for the background purge (mqs_dead_topics), whoever deleted the row.
--
-- Engine storage (openroma-pg)
-- * mqs_partitions.next_offset is the offset counter of a partition. Producers take offsets with
--   UPDATE ... RETURNING, so the row lock serialises the producers OF ONE PARTITION until they commit:
--   offsets are contiguous and become visible in order, which is what lets a consumer group keep a plain
--   cursor per partition without ever skipping a late-committing message. last_ts keeps message
--   timestamps monotonic per partition even if the wall clock steps back (retention relies on it: the
--   expired messages of a partition are always a prefix).
-- * mqs_messages has no foreign key (bulk inserts and background purges stay cheap).
-- * A consumer group is one cursor row per partition (mqs_group_cursors: next offset never handed out)
--   plus one lease row per handed-out, un-acked message (mqs_leases). Fetchers lock cursor and lease rows
--   FOR UPDATE SKIP LOCKED, so two consumers of one group never receive the same message at the same
--   time; a lease whose lease_until passed is handed out again (redelivery) with gen + 1, and the
--   handler of the older delivery stops being valid.
-- * Timestamps of the engine are epoch milliseconds of the DATABASE clock (mqs_now_ms()), so several
--   topic workers on different hosts agree on lease expiry.

CREATE TABLE mqs_topics (
    id                  bigserial PRIMARY KEY,
    project_id          text NOT NULL,
    instance_id         text NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (name ~ '^[A-Za-z][A-Za-z0-9_-]{2,199}$'),
    app_id              text NOT NULL REFERENCES apps(id),  -- NO ACTION: checked after an instance cascade
    partitions          integer NOT NULL CHECK (partitions BETWEEN 1 AND 50),
    replication         integer NOT NULL CHECK (replication BETWEEN 1 AND 3),
    access_policy       text NOT NULL CHECK (access_policy IN ('all', 'pub', 'sub')),
    sync_message_flush  boolean NOT NULL DEFAULT false,
    sync_replication    boolean NOT NULL DEFAULT false,
    retention_time      integer NOT NULL CHECK (retention_time BETWEEN 1 AND 720),  -- hours
    tag                 text NOT NULL DEFAULT '',
    description         text NOT NULL DEFAULT '',
    sensitive_word      text NOT NULL DEFAULT '',
    engine              text NOT NULL DEFAULT 'openroma-pg',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mqs_topics_instance_name_uniq UNIQUE (instance_id, name)
);
CREATE INDEX mqs_topics_app_idx ON mqs_topics (app_id);

CREATE TABLE mqs_topic_policies (
    topic_id       bigint NOT NULL REFERENCES mqs_topics(id) ON DELETE CASCADE,
    app_id         text NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    access_policy  text NOT NULL CHECK (access_policy IN ('all', 'pub', 'sub')),
    tag            text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic_id, app_id)
);
CREATE INDEX mqs_topic_policies_app_idx ON mqs_topic_policies (app_id);

-- ---- engine openroma-pg ----

CREATE FUNCTION mqs_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
$$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

CREATE TABLE mqs_partitions (
    topic_id     bigint NOT NULL REFERENCES mqs_topics(id) ON DELETE CASCADE,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL DEFAULT 0,
    last_ts      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
);

CREATE TABLE mqs_messages (
    topic_id   bigint NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint NOT NULL,
    ts         bigint NOT NULL,                -- epoch ms, monotonic per partition
    msg_id     text NOT NULL DEFAULT '',       -- producer's id (data plane "id")
    key        text NOT NULL DEFAULT '',
    tag        text NOT NULL DEFAULT '',
    app_id     text NOT NULL DEFAULT '',       -- producing app
    headers    json,                           -- e.g. {"consumer_key": "..."} on a resent message
    content    text NOT NULL,                  -- the message content as compact JSON text
    PRIMARY KEY (topic_id, partition, "offset")
);
-- message query by time range (ShowMqsInstanceMessages)
CREATE INDEX mqs_messages_ts_idx ON mqs_messages (topic_id, ts);

CREATE TABLE mqs_group_cursors (
    topic_id     bigint NOT NULL REFERENCES mqs_topics(id) ON DELETE CASCADE,
    grp          text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, grp, partition)
);

CREATE TABLE mqs_leases (
    topic_id     bigint NOT NULL REFERENCES mqs_topics(id) ON DELETE CASCADE,
    grp          text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    gen          integer NOT NULL DEFAULT 1,   -- delivery number; part of the handler
    lease_until  bigint NOT NULL,              -- epoch ms (database clock); 0 = nacked, due now
    PRIMARY KEY (topic_id, grp, partition, "offset")
);
CREATE INDEX mqs_leases_due_idx ON mqs_leases (topic_id, grp, lease_until);

-- Topics whose messages still have to be purged (filled by the trigger below, drained by retention).
CREATE TABLE mqs_dead_topics (
    topic_id    bigint PRIMARY KEY,
    dropped_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION mqs_topic_dropped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mqs_dead_topics (topic_id) VALUES (OLD.id) ON CONFLICT DO NOTHING;
    RETURN OLD;
END $$;
CREATE TRIGGER mqs_topics_dropped AFTER DELETE ON mqs_topics FOR EACH ROW EXECUTE FUNCTION mqs_topic_dropped();

-- Appends a batch to ONE partition in one statement. p_msgs is a JSON array of
-- {"c": content text, "i": id, "k": key, "t": tag}. Returns the first offset and the timestamp, or no row
-- when the partition does not exist (topic deleted). Wakes long-polling fetchers with NOTIFY mqs_msg.
-- p_sync is the topic's sync_message_flush: when false (ROMA's default) the transaction commits with
-- synchronous_commit off, as a Kafka broker acknowledges before fsync: a database crash may lose the last
-- few hundred milliseconds of messages, never corrupt or reorder them. It matters for throughput because
-- the partition row lock is held until COMMIT returns.
CREATE FUNCTION mqs_append(p_topic bigint, p_partition integer, p_msgs json, p_app text, p_headers json,
                           p_sync boolean)
RETURNS TABLE (base_offset bigint, ts bigint) LANGUAGE plpgsql AS $$
DECLARE
    n integer := json_array_length(p_msgs);
    v_base bigint;
    v_ts bigint;
BEGIN
    IF NOT p_sync THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    UPDATE mqs_partitions p
       SET next_offset = p.next_offset + n, last_ts = GREATEST(p.last_ts, mqs_now_ms())
     WHERE p.topic_id = p_topic AND p.partition = p_partition
    RETURNING p.next_offset - n, p.last_ts INTO v_base, v_ts;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO mqs_messages (topic_id, partition, "offset", ts, msg_id, key, tag, app_id, headers, content)
    SELECT p_topic, p_partition, v_base + e.ord - 1, v_ts, COALESCE(e.m->>'i', ''), COALESCE(e.m->>'k', ''),
           COALESCE(e.m->>'t', ''), COALESCE(p_app, ''), p_headers, e.m->>'c'
      FROM json_array_elements(p_msgs) WITH ORDINALITY AS e(m, ord);
    PERFORM pg_notify('mqs_msg', p_topic::text);
    base_offset := v_base;
    ts := v_ts;
    RETURN NEXT;
END $$;

-- Hands out up to p_max messages (at most p_max_bytes of content, but always at least one) to a consumer
-- of group p_grp, leased for p_lease_ms: first leases that expired or were nacked (redelivery), then
-- messages past the group's cursors. Cursor and lease rows are taken FOR UPDATE SKIP LOCKED so that
-- concurrent fetchers of one group split the work instead of waiting or duplicating. A new group starts
-- at the oldest retained message of every partition.
-- Consumer-group state commits with synchronous_commit off: losing its last few hundred milliseconds in
-- a database crash only redelivers messages (at-least-once), which un-acked messages are anyway.
CREATE FUNCTION mqs_fetch(p_topic bigint, p_grp text, p_max integer, p_max_bytes integer, p_lease_ms bigint)
RETURNS TABLE (partition integer, "offset" bigint, gen integer, ts bigint, msg_id text, content text)
LANGUAGE plpgsql AS $$
DECLARE
    now_ms bigint := mqs_now_ms();
    taken integer := 0;
    bytes bigint := 0;
    l record;
    m record;
    cur bigint;
    part_ integer;
    last_off bigint;
    full_ boolean := false;
    nparts integer;
    start_ integer;
    skipped integer := 0;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    -- 1. redeliveries
    FOR l IN SELECT x.partition, x."offset", x.gen FROM mqs_leases x
              WHERE x.topic_id = p_topic AND x.grp = p_grp AND x.lease_until <= now_ms
              ORDER BY x.lease_until, x.partition, x."offset"
              LIMIT p_max FOR UPDATE SKIP LOCKED LOOP
        SELECT mm.ts, mm.msg_id, mm.content INTO m FROM mqs_messages mm
         WHERE mm.topic_id = p_topic AND mm.partition = l.partition AND mm."offset" = l."offset";
        IF NOT FOUND THEN  -- removed by retention meanwhile
            DELETE FROM mqs_leases x WHERE x.topic_id = p_topic AND x.grp = p_grp
               AND x.partition = l.partition AND x."offset" = l."offset";
            CONTINUE;
        END IF;
        IF taken > 0 AND bytes + octet_length(m.content) > p_max_bytes THEN
            full_ := true;
            EXIT;
        END IF;
        UPDATE mqs_leases x SET gen = x.gen + 1, lease_until = now_ms + p_lease_ms
         WHERE x.topic_id = p_topic AND x.grp = p_grp AND x.partition = l.partition AND x."offset" = l."offset";
        partition := l.partition; "offset" := l."offset"; gen := l.gen + 1;
        ts := m.ts; msg_id := m.msg_id; content := m.content;
        RETURN NEXT;
        taken := taken + 1;
        bytes := bytes + octet_length(m.content);
    END LOOP;
    IF full_ OR taken >= p_max THEN
        RETURN;
    END IF;

    -- 2. new messages, partitions visited from a random start so concurrent consumers spread out
    IF NOT EXISTS (SELECT 1 FROM mqs_group_cursors g WHERE g.topic_id = p_topic AND g.grp = p_grp) THEN
        INSERT INTO mqs_group_cursors (topic_id, grp, partition, next_offset)
        SELECT p.topic_id, p_grp, p.partition,
               COALESCE((SELECT min(mm."offset") FROM mqs_messages mm
                          WHERE mm.topic_id = p.topic_id AND mm.partition = p.partition), 0)
          FROM mqs_partitions p WHERE p.topic_id = p_topic
        ON CONFLICT DO NOTHING;
    END IF;
    SELECT count(*) INTO nparts FROM mqs_partitions p WHERE p.topic_id = p_topic;
    IF nparts = 0 THEN
        RETURN;
    END IF;
    start_ := floor(random() * nparts)::integer;
    -- One cursor row locked at a time (a FOR loop over a FOR UPDATE query would lock every row of its
    -- first fetched batch, i.e. all partitions, and starve the group's other consumers).
    FOR k IN 0 .. nparts - 1 LOOP
        part_ := (start_ + k) % nparts;
        SELECT g.next_offset INTO cur FROM mqs_group_cursors g
         WHERE g.topic_id = p_topic AND g.grp = p_grp AND g.partition = part_
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            skipped := skipped + 1;
            CONTINUE;
        END IF;
        last_off := NULL;
        FOR m IN SELECT mm."offset", mm.ts, mm.msg_id, mm.content FROM mqs_messages mm
                  WHERE mm.topic_id = p_topic AND mm.partition = part_ AND mm."offset" >= cur
                  ORDER BY mm."offset" LIMIT (p_max - taken) LOOP
            IF taken > 0 AND bytes + octet_length(m.content) > p_max_bytes THEN
                full_ := true;
                EXIT;
            END IF;
            INSERT INTO mqs_leases (topic_id, grp, partition, "offset", gen, lease_until)
            VALUES (p_topic, p_grp, part_, m."offset", 1, now_ms + p_lease_ms)
            ON CONFLICT ON CONSTRAINT mqs_leases_pkey DO UPDATE
               SET gen = mqs_leases.gen + 1, lease_until = EXCLUDED.lease_until;
            partition := part_; "offset" := m."offset"; gen := 1;
            ts := m.ts; msg_id := m.msg_id; content := m.content;
            RETURN NEXT;
            last_off := m."offset";
            taken := taken + 1;
            bytes := bytes + octet_length(m.content);
        END LOOP;
        IF last_off IS NOT NULL THEN
            UPDATE mqs_group_cursors g SET next_offset = last_off + 1
             WHERE g.topic_id = p_topic AND g.grp = p_grp AND g.partition = part_;
        END IF;
        EXIT WHEN full_ OR taken >= p_max;
    END LOOP;
    -- Nothing delivered while other consumers of the group held some partitions: say so with a marker row
    -- (partition -1), so the caller retries at once instead of sleeping until a new message arrives.
    IF taken = 0 AND skipped > 0 THEN
        partition := -1; "offset" := skipped; gen := 0; ts := 0; msg_id := ''; content := NULL;
        RETURN NEXT;
    END IF;
END $$;

-- Acknowledges deliveries of group p_grp: parallel arrays of partition, offset, gen and ok (true =
-- consumed: the lease is removed; false = failed: the message is due again at once). A delivery counts
-- as acknowledged only while its lease is live and of the same gen (after ack_wait the handler is no
-- longer valid, as ROMA documents). Returns how many were acknowledged.
CREATE FUNCTION mqs_ack(p_topic bigint, p_grp text, p_parts integer[], p_offsets bigint[], p_gens integer[],
                        p_ok boolean[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    now_ms bigint := mqs_now_ms();
    done integer := 0;
    i integer;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);  -- see mqs_fetch
    FOR i IN 1 .. COALESCE(array_length(p_parts, 1), 0) LOOP
        IF p_ok[i] THEN
            DELETE FROM mqs_leases x WHERE x.topic_id = p_topic AND x.grp = p_grp AND x.partition = p_parts[i]
               AND x."offset" = p_offsets[i] AND x.gen = p_gens[i] AND x.lease_until > now_ms;
        ELSE
            UPDATE mqs_leases x SET lease_until = 0
             WHERE x.topic_id = p_topic AND x.grp = p_grp AND x.partition = p_parts[i]
               AND x."offset" = p_offsets[i] AND x.gen = p_gens[i] AND x.lease_until > now_ms;
        END IF;
        IF FOUND THEN
            done := done + 1;
        END IF;
    END LOOP;
    RETURN done;
END $$;

-- Retention of one partition: deletes, among its p_batch oldest messages, those older than p_cutoff_ms
-- (a prefix, timestamps being monotonic per partition) and the leases pointing at them. Returns how many
-- messages were deleted; the caller loops while it gets a full batch. Only old rows are touched, never
-- the partition row, so producers are not blocked.
CREATE FUNCTION mqs_retention_batch(p_topic bigint, p_partition integer, p_cutoff_ms bigint, p_batch integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    max_off bigint;
BEGIN
    WITH c AS (SELECT mm."offset", mm.ts FROM mqs_messages mm
                WHERE mm.topic_id = p_topic AND mm.partition = p_partition
                ORDER BY mm."offset" LIMIT p_batch),
         d AS (DELETE FROM mqs_messages mm USING c
                WHERE mm.topic_id = p_topic AND mm.partition = p_partition AND mm."offset" = c."offset"
                  AND c.ts < p_cutoff_ms
               RETURNING mm."offset")
    SELECT count(*), max(d."offset") INTO n, max_off FROM d;
    IF n > 0 THEN
        DELETE FROM mqs_leases x WHERE x.topic_id = p_topic AND x.partition = p_partition AND x."offset" <= max_off;
    END IF;
    RETURN n;
END $$;

-- Purges up to p_batch messages of a deleted topic; when none are left, forgets the topic. Returns the
-- number deleted.
CREATE FUNCTION mqs_purge_batch(p_topic bigint, p_batch integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH c AS (SELECT mm.partition, mm."offset" FROM mqs_messages mm WHERE mm.topic_id = p_topic LIMIT p_batch)
    DELETE FROM mqs_messages mm USING c
     WHERE mm.topic_id = p_topic AND mm.partition = c.partition AND mm."offset" = c."offset";
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        DELETE FROM mqs_dead_topics WHERE topic_id = p_topic;
    END IF;
    RETURN n;
END $$;
