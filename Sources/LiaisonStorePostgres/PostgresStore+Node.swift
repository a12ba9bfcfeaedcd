public import Foundation
internal import LiaisonLedger
public import LiaisonModel
internal import LiaisonSealing
public import LiaisonStore
internal import Logging
internal import PostgresNIO

extension PostgresStore: NodeStore {
    /// Applies the migrations this database has not seen, in order, inside
    /// the caller's transaction (which holds the sequencer lock, so that two
    /// replicas starting at once do not both migrate).
    static func applyMigrations(_ c: PostgresConnection, _ logger: Logger) async throws {
        _ = try await c.query("CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)", logger: logger).collect()
        let applied = Set(try await rows(c, "SELECT version FROM schema_migrations", logger).map { try $0["version"].decode(String.self) })
        for (version, sql) in [
            ("v2-node", NodeSchema.postgres), ("v4-federation", Self.federationMigration), ("v5-operators", Self.operatorsMigration), ("v6-consents", NodeSchema.consentsPostgres),
            ("v7-consent-requests", NodeSchema.consentRequestsPostgres), ("v8-claim-order", NodeSchema.claimOrderPostgres),
            ("v9-outbox-tally", NodeSchema.outboxTally(integer: "BIGINT", lock: "LOCK TABLE outbox IN SHARE MODE;\n")),
            ("v10-outbox-errors", NodeSchema.outboxErrors),
        ] where !applied.contains(version) {
            // The extended protocol runs one statement per query.
            for statement in sql.components(separatedBy: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                _ = try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect()
            }
            _ = try await c.query("INSERT INTO schema_migrations (version) VALUES (\(version))", logger: logger).collect()
        }
    }

    /// Adds settled outbox tasks to their peers' tallies (``NodeSchema/outboxTally(integer:)``), by peer.
    static func tally(_ c: PostgresConnection, _ settled: [String: OutboxTally], _ logger: Logger) async throws {
        for (peer, n) in settled.sorted(by: { $0.key < $1.key }) where !n.isEmpty {
            _ = try await c.query(
                "UPDATE peers SET outbox_done = outbox_done + \(Int64(n.done)), outbox_refused = outbox_refused + \(Int64(n.refused)) WHERE party = \(peer)",
                logger: logger
            ).collect()
        }
    }

    static func rows(_ c: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var out: [PostgresRandomAccessRow] = []
        for try await row in try await c.query(query, logger: logger) { out.append(row.makeRandomAccess()) }
        return out
    }

    static func execute(_ c: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws {
        _ = try await c.query(query, logger: logger).collect()
    }

    static func ms(_ d: Date) -> Int64 { Instant.milliseconds(d) }
    static func date(_ ms: Int64) -> Date { Instant.date(ms) }

    /// Runs `body` in one transaction; when it records ledger entries, the
    /// sequencer lock is taken first (before any row lock) and the entries
    /// are appended after `body`, in the same transaction.
    /// `sequenced` takes the lock even without ledger entries: item inserts
    /// do, so that holdings' sequence numbers are committed in their order
    /// and a reader paging by sequence never skips one committed later.
    func transaction<T: Sendable>(
        _ ledger: LedgerWrite, sequenced: Bool = false, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws(StoreError) -> (T, LedgerReceipt) {
        let encoded = try ledger.encoded()
        let logger = self.logger
        return try await wrap {
            try await self.client.withTransaction(logger: logger) { c in
                if sequenced || !encoded.isEmpty { try await Self.lockSequencer(c, logger) }
                let value = try await body(c, logger)
                let range = try await Self.appendLedger(c, encoded, sign: ledger.sign, logger)
                return (value, LedgerReceipt(entries: range))
            }
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws(StoreError) -> T {
        let logger = self.logger
        return try await wrap { try await self.client.withConnection { c in try await body(c, logger) } }
    }

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    // MARK: Items and holdings

    struct ItemRows: Sendable {
        var rootDigests: [String] = [], rootDERs: [String] = []
        var ids: [String] = [], digests: [String] = [], manifests: [String] = [], sealRoots: [String] = [], sealIndices: [Int64] = []
        var sealPaths: [String] = [], originators: [String] = [], mediaTypes: [String] = [], sizes: [Int64] = [], payloads: [String] = []
        var parties: [String] = [], agreements: [String] = [], at: [Int64] = []

        init(_ items: [NewItem], key: StorageKey) {
            let (roots, itemRoots) = NodeRules.originRoots(items)
            for r in roots {
                rootDigests.append(Hex.encode(r.digest))
                rootDERs.append(Hex.encode(r.der))
            }
            for (item, root) in zip(items, itemRoots) {
                let m = item.sealed.manifest
                ids.append(Hex.encode(m.itemID))
                digests.append(Hex.encode(m.digest))
                manifests.append(Hex.encode(m.derBytes))
                sealRoots.append(Hex.encode(root))
                sealIndices.append(Int64(item.sealed.seal.index))
                sealPaths.append(Hex.encode(item.sealed.seal.path.bytes))
                originators.append(m.label.originator.code)
                mediaTypes.append(m.mediaType)
                sizes.append(Int64(m.payloadSize))
                payloads.append(Hex.encode(key.seal(item.sealed.payload, itemID: m.itemID)))
                if case .received(let from, let agreement) = item.source {
                    parties.append(from.code)
                    agreements.append(agreement)
                } else {
                    parties.append("")
                    agreements.append("")
                }
                at.append(Instant.milliseconds(item.at))
            }
        }
    }

    /// Inserts items in one statement (bytes travel as hex text arrays),
    /// after their origin roots.
    static func insertItems(_ c: PostgresConnection, _ r: ItemRows, _ logger: Logger) async throws {
        let existing = try await rows(
            c, "SELECT encode(id, 'hex') AS id FROM items WHERE id IN (SELECT decode(x, 'hex') FROM unnest(\(r.ids)::text[]) AS t(x)) LIMIT 1", logger)
        if let first = existing.first { throw StoreError(.duplicate, "item \(try first["id"].decode(String.self)) is already stored") }
        try await execute(
            c,
            """
            INSERT INTO origin_roots (digest, root)
            SELECT decode(d, 'hex'), decode(r, 'hex') FROM unnest(\(r.rootDigests)::text[], \(r.rootDERs)::text[]) AS t(d, r)
            ON CONFLICT (digest) DO NOTHING
            """, logger)
        do {
            try await execute(
                c,
                """
                INSERT INTO items (id, digest, manifest, seal_root, seal_index, seal_path, originator, media_type, payload_size, payload,
                    source_party, agreement, received_at, status)
                SELECT decode(i, 'hex'), decode(d, 'hex'), decode(m, 'hex'), decode(sr, 'hex'), si, decode(sp, 'hex'), o, mt, sz, decode(p, 'hex'),
                    NULLIF(pa, ''), NULLIF(ag, ''), at, 'held'
                FROM unnest(\(r.ids)::text[], \(r.digests)::text[], \(r.manifests)::text[], \(r.sealRoots)::text[], \(r.sealIndices)::bigint[],
                    \(r.sealPaths)::text[], \(r.originators)::text[], \(r.mediaTypes)::text[], \(r.sizes)::bigint[], \(r.payloads)::text[],
                    \(r.parties)::text[], \(r.agreements)::text[], \(r.at)::bigint[])
                    AS t(i, d, m, sr, si, sp, o, mt, sz, p, pa, ag, at)
                """, logger)
        } catch where sqlState(error) == "23505" {
            throw StoreError(.duplicate, "an item of the batch is already stored")
        }
    }

    public func storeItems(_ items: [NewItem], ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try NodeRules.items(items)
        let rows = ItemRows(items, key: try NodeRules.storageKey(storageKey))
        return try await transaction(ledger, sequenced: true) { c, logger in try await Self.insertItems(c, rows, logger) }.1
    }

    static let holdingColumns =
        "items.seq, items.id, items.digest, items.manifest, items.originator, items.media_type, items.payload_size, items.source_party, items.agreement, items.received_at, items.status, items.label"

    static func holdingAndManifest(_ r: PostgresRandomAccessRow) throws -> (LiaisonStore.Holding, ItemManifest) {
        let manifest: ItemManifest = try NodeRules.decode(Array(try r["manifest"].decode(Data.self)), "manifest")
        let label = try NodeRules.label(manifest: manifest, current: try r["label"].decode(Data?.self).map { Array($0) })
        let status = try r["status"].decode(String.self)
        guard let s = HoldingStatus(rawValue: status) else { throw StoreError(.corrupt, "unknown holding status \(status)") }
        let h = LiaisonStore.Holding(
            sequence: try r["seq"].decode(Int64.self), itemID: Array(try r["id"].decode(Data.self)), digest: Array(try r["digest"].decode(Data.self)),
            originator: try NodeRules.party(try r["originator"].decode(String.self)), label: label, mediaType: try r["media_type"].decode(String.self),
            payloadSize: Int(try r["payload_size"].decode(Int64.self)),
            source: try NodeRules.source(party: try r["source_party"].decode(String?.self), agreement: try r["agreement"].decode(String?.self)),
            at: date(try r["received_at"].decode(Int64.self)), status: s)
        return (h, manifest)
    }

    /// One item, read and checked as a sender's batch is (``items(_:)``).
    public func item(_ id: [UInt8]) async throws(StoreError) -> StoredItem { try await items([id])[0] }

    public func holdings(after cursor: Int64?, limit: Int) async throws(StoreError) -> [LiaisonStore.Holding] {
        guard limit > 0, limit <= NodeRules.maximumClaim else { throw StoreError(.invalidInput, "a page holds 1 to \(NodeRules.maximumClaim) holdings, not \(limit)") }
        return try await read { c, logger in
            try await Self.rows(
                c, "SELECT \(unescaped: Self.holdingColumns) FROM items WHERE seq > \(cursor ?? 0) ORDER BY seq LIMIT \(Int64(limit))", logger
            ).map { try Self.holdingAndManifest($0).0 }
        }
    }

    public func holdings(before cursor: Int64?, limit: Int) async throws(StoreError) -> [LiaisonStore.Holding] {
        guard limit > 0, limit <= NodeRules.maximumClaim else { throw StoreError(.invalidInput, "a page holds 1 to \(NodeRules.maximumClaim) holdings, not \(limit)") }
        return try await read { c, logger in
            try await Self.rows(
                c, "SELECT \(unescaped: Self.holdingColumns) FROM items WHERE seq < \(cursor ?? Int64.max) ORDER BY seq DESC LIMIT \(Int64(limit))", logger
            ).map { try Self.holdingAndManifest($0).0 }
        }
    }

    public func changeHolding(
        _ id: [UInt8], _ change: HoldingChange, at: Date, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask]) {
        try NodeRules.change(change)
        try NodeRules.instant(at, "the instant")
        if !statements.isEmpty { try NodeRules.statementRequests(statements) }
        let when = Self.ms(at)
        let (tasks, receipt) = try await transaction(ledger) { c, logger in
            guard let r = try await Self.rows(c, "SELECT \(unescaped: Self.holdingColumns) FROM items WHERE id = \(Data(id)) FOR UPDATE", logger).first else {
                throw StoreError(.notFound, "no item \(Hex.encode(id))")
            }
            let (h, manifest) = try Self.holdingAndManifest(r)
            let (kind, evidence) = try NodeRules.event(change, holding: h, manifest: manifest)
            switch change {
            case .reclassified(let label, _):
                try await Self.execute(c, "UPDATE items SET label = \(Data(LabelDocument(label).derBytes)) WHERE seq = \(h.sequence)", logger)
            case .destroyed:
                try await Self.execute(c, "UPDATE items SET status = 'destroyed', payload = NULL WHERE seq = \(h.sequence)", logger)
            case .compromised:
                try await Self.execute(c, "UPDATE items SET status = 'compromised' WHERE seq = \(h.sequence)", logger)
            case .compromiseReported:
                break
            }
            try await Self.execute(
                c, "INSERT INTO holding_events (item_seq, kind, at, evidence) VALUES (\(h.sequence), \(kind.rawValue), \(when), \(Data(evidence)))", logger)
            return try await Self.insertStatements(c, statements, at: at, logger)
        }
        return (receipt, tasks)
    }

    public func holdingEvents(_ id: [UInt8]) async throws(StoreError) -> [HoldingEvent] {
        try await read { c, logger in
            guard let r = try await Self.rows(c, "SELECT seq FROM items WHERE id = \(Data(id))", logger).first else {
                throw StoreError(.notFound, "no item \(Hex.encode(id))")
            }
            let seq = try r["seq"].decode(Int64.self)
            return try await Self.rows(c, "SELECT kind, at, evidence FROM holding_events WHERE item_seq = \(seq) ORDER BY id", logger).map { r in
                guard let kind = HoldingEvent.Kind(rawValue: try r["kind"].decode(String.self)) else {
                    throw StoreError(.corrupt, "unknown holding event kind")
                }
                return HoldingEvent(kind: kind, at: Self.date(try r["at"].decode(Int64.self)), evidence: Array(try r["evidence"].decode(Data.self)))
            }
        }
    }

    public func holdingEvents(kind: HoldingEvent.Kind, before: Int64?, limit: Int) async throws(StoreError) -> [ItemEvent] {
        guard (1...10_000).contains(limit) else { throw StoreError(.invalidInput, "limit is 1 to 10000, not \(limit)") }
        return try await read { c, logger in
            try await Self.rows(
                c,
                """
                SELECT e.id, e.at, e.evidence, i.id AS item FROM holding_events e JOIN items i ON i.seq = e.item_seq
                WHERE e.kind = \(kind.rawValue) AND e.id < \(before ?? Int64.max) ORDER BY e.id DESC LIMIT \(limit)
                """, logger
            ).map { r in
                ItemEvent(
                    sequence: try r["id"].decode(Int64.self), itemID: Array(try r["item"].decode(Data.self)),
                    event: HoldingEvent(kind: kind, at: Self.date(try r["at"].decode(Int64.self)), evidence: Array(try r["evidence"].decode(Data.self))))
            }
        }
    }

    // MARK: Outbox

    static let outboxColumns = "id, item_id, peer, agreement, consents, link_seq, state, owner, lease_until, attempts, not_before, last_error, receipt"

    static func outboxTask(_ r: PostgresRandomAccessRow) throws -> OutboxTask {
        let state = try r["state"].decode(String.self)
        guard let s = QueueState(rawValue: state) else { throw StoreError(.corrupt, "unknown outbox state \(state)") }
        return OutboxTask(
            id: try r["id"].decode(Int64.self), itemID: Array(try r["item_id"].decode(Data.self)), peer: try NodeRules.party(try r["peer"].decode(String.self)),
            agreement: try r["agreement"].decode(String.self), consents: try NodeRules.unpack(Array(try r["consents"].decode(Data.self))),
            linkSequence: try r["link_seq"].decode(Int64.self), state: s, owner: try r["owner"].decode(String?.self),
            leaseUntil: try r["lease_until"].decode(Int64?.self).map(date), attempts: try r["attempts"].decode(Int.self),
            notBefore: date(try r["not_before"].decode(Int64.self)), lastError: try r["last_error"].decode(String?.self),
            receipt: try r["receipt"].decode(Data?.self).map { Array($0) })
    }

    public func enqueueOutbox(_ requests: [OutboxRequest], at: Date, ledger: LedgerWrite) async throws(StoreError) -> [OutboxTask] {
        try NodeRules.outbox(requests)
        try NodeRules.instant(at, "the instant")
        let when = Self.ms(at)
        return try await transaction(ledger) { c, logger in
            // A batch is a handful of statements, not three round trips per
            // request. Each peer's link numbers are taken in one update, the
            // peers in a fixed order (two batches lock them alike).
            var next: [Party: Int64] = [:]
            for (peer, count) in Dictionary(grouping: requests, by: \.peer).mapValues(\.count).sorted(by: { $0.key.code < $1.key.code }) {
                guard
                    let row = try await Self.rows(
                        c, "UPDATE peers SET next_out_seq = next_out_seq + \(Int64(count)) WHERE party = \(peer.code) RETURNING next_out_seq - \(Int64(count)) AS seq",
                        logger
                    ).first
                else { throw StoreError(.notFound, "no peer \(peer)") }
                next[peer] = try row["seq"].decode(Int64.self)
            }
            // The items, held while they are queued (no destruction slips in between).
            let ids = requests.map { Hex.encode($0.itemID) }
            var status: [String: String] = [:]
            for row in try await Self.rows(
                c, "SELECT encode(id, 'hex') AS id, status FROM items WHERE id = ANY(SELECT decode(x, 'hex') FROM unnest(\(ids)::text[]) AS x) FOR SHARE", logger)
            {
                status[try row["id"].decode(String.self)] = try row["status"].decode(String.self)
            }
            for id in ids {
                guard let state = status[id] else { throw StoreError(.notFound, "no item \(id) to send") }
                guard state == HoldingStatus.held.rawValue else { throw StoreError(.conflict, "item \(id) is \(state); it cannot be sent") }
            }
            var sequences: [Int64] = []
            sequences.reserveCapacity(requests.count)
            for r in requests {
                sequences.append(next[r.peer]!)
                next[r.peer]! += 1
            }
            let peers = requests.map(\.peer.code), agreements = requests.map(\.agreement)
            let queued = try await Self.rows(
                c,
                """
                SELECT encode(o.item_id, 'hex') AS id, o.peer, o.agreement FROM outbox o
                JOIN unnest(\(ids)::text[], \(peers)::text[], \(agreements)::text[]) AS t(i, p, a)
                    ON o.item_id = decode(t.i, 'hex') AND o.peer = t.p AND o.agreement = t.a
                LIMIT 1
                """, logger)
            if let row = queued.first {
                throw StoreError(
                    .duplicate,
                    "item \(try row["id"].decode(String.self)) is already queued to \(try row["peer"].decode(String.self)) under \(try row["agreement"].decode(String.self))")
            }
            let inserted: [PostgresRandomAccessRow]
            do {
                inserted = try await Self.rows(
                    c,
                    """
                    INSERT INTO outbox (item_id, peer, agreement, consents, link_seq, state, attempts, not_before)
                    SELECT decode(i, 'hex'), p, a, decode(k, 'hex'), s, 'pending', 0, \(when)
                    FROM unnest(\(ids)::text[], \(peers)::text[], \(agreements)::text[], \(requests.map { Hex.encode(NodeRules.pack($0.consents)) })::text[],
                        \(sequences)::bigint[]) AS t(i, p, a, k, s)
                    RETURNING \(unescaped: Self.outboxColumns)
                    """, logger)
            } catch where Self.sqlState(error) == "23505" {
                // Queued by another replica since the check above.
                throw StoreError(.duplicate, "an item of the batch is already queued to its peer under its agreement")
            }
            // In the order of the requests: each is its peer's link number.
            var tasks: [String: OutboxTask] = [:]
            for row in inserted {
                let task = try Self.outboxTask(row)
                tasks["\(task.peer.code) \(task.linkSequence)"] = task
            }
            return try zip(requests, sequences).map { r, seq throws(StoreError) in
                guard let task = tasks["\(r.peer.code) \(seq)"] else { throw StoreError(.corrupt, "the outbox did not return the task it queued") }
                return task
            }
        }.0
    }

    public func claimOutbox(peer: Party, owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [OutboxTask] {
        try NodeRules.claim(owner: owner, limit: limit, lease: lease, now: now)
        let t = Self.ms(now), until = Self.ms(now.addingTimeInterval(lease))
        return try await transaction(.none) { c, logger in
            try await Self.rows(c, Self.claim("outbox", Self.outboxColumns, peer: peer, owner: owner, limit: limit, now: t, until: until), logger)
                .map(Self.outboxTask).sorted { $0.id < $1.id }
        }.0
    }

    /// Claims a peer's due tasks of a work queue (`outbox`, `statement_outbox`):
    /// claims whose lease ran out first, then pending tasks in the order
    /// they fell due (and were queued). Each part walks the queue's
    /// `(peer, state, not_before, id)` index up to `limit`; SKIP LOCKED: a
    /// replica passes over the rows another is claiming.
    static func claim(_ table: String, _ columns: String, peer: Party, owner: String, limit: Int, now t: Int64, until: Int64) -> PostgresQuery {
        """
        WITH expired AS (
            SELECT id, lease_until AS due FROM \(unescaped: table) WHERE peer = \(peer.code) AND state = 'claimed' AND lease_until <= \(t)
            ORDER BY lease_until, id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED),
        fell_due AS (
            SELECT id, not_before AS due FROM \(unescaped: table) WHERE peer = \(peer.code) AND state = 'pending' AND not_before <= \(t)
            ORDER BY not_before, id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
        UPDATE \(unescaped: table) SET state = 'claimed', owner = \(owner), lease_until = \(until), attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM (SELECT id, 0 AS part, due FROM expired UNION ALL SELECT id, 1, due FROM fell_due) AS taken
            ORDER BY part, due, id LIMIT \(Int64(limit)))
        RETURNING \(unescaped: columns)
        """
    }

    public func settleOutbox(_ id: Int64, owner: String, _ outcome: OutboxOutcome, at: Date, ledger: LedgerWrite) async throws(StoreError) -> OutboxTask {
        try NodeRules.outcome(outcome)
        return try await transaction(ledger) { c, logger in
            guard let r = try await Self.rows(c, "SELECT \(unescaped: Self.outboxColumns) FROM outbox WHERE id = \(id) FOR UPDATE", logger).first else {
                throw StoreError(.notFound, "no outbox task \(id)")
            }
            let task = try Self.outboxTask(r)
            try NodeRules.settleable(task.state, owner: task.owner, by: owner, what: "outbox task \(id)")
            let query: PostgresQuery
            switch outcome {
            case .delivered(let receipt):
                query = try "UPDATE outbox SET state = 'done', owner = NULL, lease_until = NULL, receipt = \(Data(receipt)), last_error = NULL WHERE id = \(id) RETURNING \(unescaped: Self.outboxColumns)"
            case .retry(let error, let notBefore):
                query = """
                    UPDATE outbox SET state = 'pending', owner = NULL, lease_until = NULL, last_error = \(error), not_before = \(Self.ms(notBefore))
                    WHERE id = \(id) RETURNING \(unescaped: Self.outboxColumns)
                    """
            case .refused(let reason):
                query = "UPDATE outbox SET state = 'refused', owner = NULL, lease_until = NULL, last_error = \(reason) WHERE id = \(id) RETURNING \(unescaped: Self.outboxColumns)"
            }
            let settled = try Self.outboxTask(try await Self.rows(c, query, logger)[0])
            var tally = OutboxTally()
            tally.add(outcome)
            try await Self.tally(c, [task.peer.code: tally], logger)
            return settled
        }.0
    }

    public func outboxTask(_ id: Int64) async throws(StoreError) -> OutboxTask {
        let task = try await read { c, logger in
            try await Self.rows(c, "SELECT \(unescaped: Self.outboxColumns) FROM outbox WHERE id = \(id)", logger).first.map(Self.outboxTask)
        }
        guard let task else { throw StoreError(.notFound, "no outbox task \(id)") }
        return task
    }

    public func outboxTasks(itemID: [UInt8]?, before: Int64?, limit: Int) async throws(StoreError) -> [OutboxTask] {
        if let itemID { try NodeRules.itemID(itemID) }
        guard (1...10_000).contains(limit) else { throw StoreError(.invalidInput, "a page holds 1 to 10000 tasks, not \(limit)") }
        let item = itemID.map { Data($0) }, limit = Int64(limit)
        return try await read { c, logger in
            try await Self.rows(
                c,
                """
                SELECT \(unescaped: Self.outboxColumns) FROM outbox
                WHERE (\(item)::BYTEA IS NULL OR item_id = \(item)) AND (\(before)::BIGINT IS NULL OR id < \(before))
                ORDER BY id DESC LIMIT \(limit)
                """, logger
            ).map(Self.outboxTask)
        }
    }

    // MARK: Inbox

    static let inboxColumns = "id, peer, link_seq, digest, envelope, received_at, state, owner, lease_until, reason, item_id"

    static func inboxTask(_ r: PostgresRandomAccessRow) throws -> InboxTask {
        let state = try r["state"].decode(String.self)
        guard let s = QueueState(rawValue: state) else { throw StoreError(.corrupt, "unknown inbox state \(state)") }
        return InboxTask(
            id: try r["id"].decode(Int64.self), peer: try NodeRules.party(try r["peer"].decode(String.self)), linkSequence: try r["link_seq"].decode(Int64.self),
            digest: Array(try r["digest"].decode(Data.self)), bytes: try r["envelope"].decode(Data?.self).map { Array($0) } ?? [],
            receivedAt: date(try r["received_at"].decode(Int64.self)), state: s, owner: try r["owner"].decode(String?.self),
            leaseUntil: try r["lease_until"].decode(Int64?.self).map(date), reason: try r["reason"].decode(String?.self),
            itemID: try r["item_id"].decode(Data?.self).map { Array($0) })
    }

    public func receiveInbox(_ envelopes: [InboundEnvelope], ledger: LedgerWrite) async throws(StoreError) -> [InboxAdmission] {
        try NodeRules.inbound(envelopes)
        return try await transaction(ledger) { c, logger in
            var out: [InboxAdmission] = []
            for e in envelopes {
                // ON CONFLICT waits for a replica inserting the same envelope, then yields to it.
                if let r = try await Self.rows(
                    c,
                    """
                    INSERT INTO inbox (peer, link_seq, digest, envelope, received_at, state)
                    VALUES (\(e.peer.code), \(e.linkSequence), \(Data(e.digest)), \(Data(e.bytes)), \(Self.ms(e.at)), 'pending')
                    ON CONFLICT (peer, link_seq) DO NOTHING RETURNING id
                    """, logger
                ).first {
                    out.append(.new(try r["id"].decode(Int64.self)))
                    continue
                }
                let r = try await Self.rows(c, "SELECT id, digest FROM inbox WHERE peer = \(e.peer.code) AND link_seq = \(e.linkSequence)", logger)[0]
                guard Array(try r["digest"].decode(Data.self)) == e.digest else {
                    throw StoreError(.conflict, "\(e.peer) link sequence \(e.linkSequence) already holds another envelope")
                }
                out.append(.duplicate(try r["id"].decode(Int64.self)))
            }
            return out
        }.0
    }

    public func claimInbox(owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [InboxTask] {
        try NodeRules.claim(owner: owner, limit: limit, lease: lease, now: now)
        let t = Self.ms(now), until = Self.ms(now.addingTimeInterval(lease))
        return try await transaction(.none) { c, logger in
            try await Self.rows(
                c,
                """
                UPDATE inbox SET state = 'claimed', owner = \(owner), lease_until = \(until)
                WHERE id IN (SELECT id FROM inbox WHERE state = 'pending' OR (state = 'claimed' AND lease_until <= \(t))
                    ORDER BY id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: Self.inboxColumns)
                """, logger
            ).map(Self.inboxTask).sorted { $0.id < $1.id }
        }.0
    }

    public func settleInbox(_ id: Int64, owner: String, _ outcome: InboxOutcome, at: Date, ledger: LedgerWrite) async throws(StoreError) -> InboxTask {
        var items: ItemRows?
        switch outcome {
        case .accepted(let item):
            try NodeRules.items([item])
            items = ItemRows([item], key: try NodeRules.storageKey(storageKey))
        case .refused(let reason): try NodeRules.text(reason, "the reason")
        }
        return try await transaction(ledger, sequenced: items != nil) { [items] c, logger in
            guard let r = try await Self.rows(c, "SELECT state, owner FROM inbox WHERE id = \(id) FOR UPDATE", logger).first else {
                throw StoreError(.notFound, "no inbox envelope \(id)")
            }
            guard let state = QueueState(rawValue: try r["state"].decode(String.self)) else { throw StoreError(.corrupt, "unknown inbox state") }
            try NodeRules.settleable(state, owner: try r["owner"].decode(String?.self), by: owner, what: "inbox envelope \(id)")
            let query: PostgresQuery
            switch outcome {
            case .accepted(let item):
                try await Self.insertItems(c, items!, logger)
                query = try """
                    UPDATE inbox SET state = 'done', owner = NULL, lease_until = NULL, item_id = \(Data(item.sealed.manifest.itemID))
                    WHERE id = \(id) RETURNING \(unescaped: Self.inboxColumns)
                    """
            case .refused(let reason):
                query = "UPDATE inbox SET state = 'refused', owner = NULL, lease_until = NULL, reason = \(reason) WHERE id = \(id) RETURNING \(unescaped: Self.inboxColumns)"
            }
            return try Self.inboxTask(try await Self.rows(c, query, logger)[0])
        }.0
    }

    public func inboxTask(_ id: Int64) async throws(StoreError) -> InboxTask {
        let task = try await read { c, logger in
            try await Self.rows(c, "SELECT \(unescaped: Self.inboxColumns) FROM inbox WHERE id = \(id)", logger).first.map(Self.inboxTask)
        }
        guard let task else { throw StoreError(.notFound, "no inbox envelope \(id)") }
        return task
    }

    // MARK: Statements

    public func recordStatements(
        _ statements: [StoredStatement], ledger: LedgerWrite, sending: [StatementRequest], at: Date
    ) async throws(StoreError) -> (new: Int, tasks: [StatementTask]) {
        try NodeRules.statements(statements)
        if !sending.isEmpty {
            try NodeRules.statementRequests(sending)
            try NodeRules.instant(at, "the instant")
        }
        return try await transaction(ledger) { c, logger in
            var new = 0
            for s in statements {
                new += try await Self.rows(
                    c,
                    """
                    INSERT INTO statements (digest, agreement, party, act, at, signed)
                    VALUES (\(Data(s.digest)), \(s.agreement), \(s.party.code), \(s.act), \(Self.ms(s.at)), \(Data(s.signed)))
                    ON CONFLICT (digest) DO NOTHING RETURNING 1 AS new
                    """, logger
                ).count
            }
            return (new, try await Self.insertStatements(c, sending, at: at, logger))
        }.0
    }

    public func statements(agreement: String) async throws(StoreError) -> [StoredStatement] {
        try NodeRules.text(agreement, "the agreement", max: 256)
        return try await read { c, logger in
            try await Self.rows(
                c, "SELECT digest, agreement, party, act, at, signed FROM statements WHERE agreement = \(agreement) ORDER BY at, digest", logger
            ).map { r in
                StoredStatement(
                    digest: Array(try r["digest"].decode(Data.self)), agreement: try r["agreement"].decode(String.self),
                    party: try NodeRules.party(try r["party"].decode(String.self)), act: try r["act"].decode(String.self),
                    at: Self.date(try r["at"].decode(Int64.self)), signed: Array(try r["signed"].decode(Data.self)))
            }
        }
    }

    // MARK: Consents

    public func keepConsent(_ consent: StoredConsent, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try NodeRules.consent(consent)
        return try await transaction(ledger) { c, logger in
            let inserted = try await Self.rows(
                c,
                """
                INSERT INTO consents (originator, id, item_digest, holder, third_party, expires_at, received_at, signed)
                VALUES (\(consent.originator.code), \(consent.id), \(Data(consent.itemDigest)), \(consent.holder.code), \(consent.thirdParty.code),
                \(Self.ms(consent.expiresAt)), \(Self.ms(consent.receivedAt)), \(Data(consent.signed)))
                ON CONFLICT (originator, id) DO NOTHING RETURNING 1 AS new
                """, logger
            ).count
            guard inserted == 1 else { throw StoreError(.conflict, "consent \(consent.id) of \(consent.originator) is kept already") }
        }.1
    }

    public func consents(itemDigests: [[UInt8]]) async throws(StoreError) -> [StoredConsent] {
        for d in itemDigests { try NodeRules.digest(d, "the item digest") }
        let hex = itemDigests.map { Hex.encode($0) }
        let found = try await read { c, logger in
            try await Self.rows(
                c,
                """
                SELECT originator, id, item_digest, holder, third_party, expires_at, received_at, signed FROM consents
                WHERE item_digest = ANY(SELECT decode(x, 'hex') FROM unnest(\(hex)) AS x)
                """, logger
            ).map { r in
                StoredConsent(
                    id: try r["id"].decode(String.self), originator: try NodeRules.party(try r["originator"].decode(String.self)),
                    itemDigest: Array(try r["item_digest"].decode(Data.self)), holder: try NodeRules.party(try r["holder"].decode(String.self)),
                    thirdParty: try NodeRules.party(try r["third_party"].decode(String.self)), expiresAt: Self.date(try r["expires_at"].decode(Int64.self)),
                    receivedAt: Self.date(try r["received_at"].decode(Int64.self)), signed: Array(try r["signed"].decode(Data.self)))
            }
        }
        return NodeRules.oldestFirst(found)
    }

    static let consentRequestColumns =
        "id, direction, holder, originator, third_party, item_id, item_digest, purpose, reason, at, state, answer, answered_at, signed"

    static func consentRequest(_ r: PostgresRandomAccessRow) throws -> ConsentRequestRecord {
        guard let direction = ConsentRequestRecord.Direction(rawValue: try r["direction"].decode(String.self)),
            let state = ConsentRequestRecord.State(rawValue: try r["state"].decode(String.self))
        else { throw StoreError(.corrupt, "a consent request's direction or state is unknown") }
        return ConsentRequestRecord(
            id: try r["id"].decode(String.self), direction: direction, holder: try NodeRules.party(try r["holder"].decode(String.self)),
            originator: try NodeRules.party(try r["originator"].decode(String.self)), thirdParty: try NodeRules.party(try r["third_party"].decode(String.self)),
            itemID: Array(try r["item_id"].decode(Data.self)), itemDigest: Array(try r["item_digest"].decode(Data.self)),
            purpose: try r["purpose"].decode(String?.self), reason: try r["reason"].decode(String.self), at: date(try r["at"].decode(Int64.self)),
            state: state, answer: try r["answer"].decode(String?.self), answeredAt: try r["answered_at"].decode(Int64?.self).map(date),
            signed: Array(try r["signed"].decode(Data.self)))
    }

    public func recordConsentRequest(
        _ r: ConsentRequestRecord, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask]) {
        try NodeRules.consentRequest(r)
        if !statements.isEmpty { try NodeRules.statementRequests(statements) }
        let (tasks, receipt) = try await transaction(ledger) { c, logger in
            let inserted = try await Self.rows(
                c,
                """
                INSERT INTO consent_requests (id, direction, holder, originator, third_party, item_id, item_digest, purpose, reason, at, state, signed)
                VALUES (\(r.id), \(r.direction.rawValue), \(r.holder.code), \(r.originator.code), \(r.thirdParty.code), \(Data(r.itemID)),
                \(Data(r.itemDigest)), \(r.purpose), \(r.reason), \(Self.ms(r.at)), 'pending', \(Data(r.signed)))
                ON CONFLICT (id) DO NOTHING RETURNING 1 AS new
                """, logger
            ).count
            guard inserted == 1 else { throw StoreError(.conflict, "consent request \(r.id) is recorded already") }
            return try await Self.insertStatements(c, statements, at: r.at, logger)
        }
        return (receipt, tasks)
    }

    public func consentRequest(_ id: String) async throws(StoreError) -> ConsentRequestRecord {
        try NodeRules.text(id, "the request's id", max: 200)
        return try await read { c, logger in
            guard let r = try await Self.rows(c, "SELECT \(unescaped: Self.consentRequestColumns) FROM consent_requests WHERE id = \(id)", logger).first
            else { throw StoreError(.notFound, "no consent request \(id)") }
            return try Self.consentRequest(r)
        }
    }

    public func consentRequests(state: ConsentRequestRecord.State?, itemDigest: [UInt8]?, limit: Int) async throws(StoreError) -> [ConsentRequestRecord] {
        guard (1...10_000).contains(limit) else { throw StoreError(.invalidInput, "limit is 1 to 10000, not \(limit)") }
        return try await read { c, logger in
            try await Self.rows(
                c,
                """
                SELECT \(unescaped: Self.consentRequestColumns) FROM consent_requests
                WHERE (\(state?.rawValue)::TEXT IS NULL OR state = \(state?.rawValue))
                AND (\(itemDigest.map { Data($0) })::BYTEA IS NULL OR item_digest = \(itemDigest.map { Data($0) }))
                ORDER BY at DESC, id DESC LIMIT \(limit)
                """, logger
            ).map(Self.consentRequest)
        }
    }

    public func answerConsentRequest(
        _ id: String, _ state: ConsentRequestRecord.State, answer: String, at: Date, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask]) {
        try NodeRules.answer(state, answer, at: at)
        if !statements.isEmpty { try NodeRules.statementRequests(statements) }
        let (tasks, receipt) = try await transaction(ledger) { c, logger in
            guard let r = try await Self.rows(c, "SELECT state FROM consent_requests WHERE id = \(id) FOR UPDATE", logger).first else {
                throw StoreError(.notFound, "no consent request \(id)")
            }
            let current = try r["state"].decode(String.self)
            guard current == "pending" else { throw StoreError(.conflict, "consent request \(id) is \(current) already") }
            try await Self.execute(
                c, "UPDATE consent_requests SET state = \(state.rawValue), answer = \(answer), answered_at = \(Self.ms(at)) WHERE id = \(id)", logger)
            return try await Self.insertStatements(c, statements, at: at, logger)
        }
        return (receipt, tasks)
    }

    // MARK: Peers

    static func peer(_ r: PostgresRandomAccessRow) throws -> PeerRecord {
        PeerRecord(
            party: try NodeRules.party(try r["party"].decode(String.self)), endpoint: try r["endpoint"].decode(String.self),
            fingerprint: try r["fingerprint"].decode(String.self), nextOutboundSequence: try r["next_out_seq"].decode(Int64.self),
            treeHead: try r["tree_head"].decode(Data?.self).map { Array($0) }, treeSize: try r["tree_size"].decode(Int64?.self).map { Int($0) },
            treeHeadAt: try r["tree_at"].decode(Int64?.self).map(date), alarm: try r["alarm"].decode(String?.self))
    }

    static let peerColumns = "party, endpoint, fingerprint, next_out_seq, tree_size, tree_head, tree_at, alarm"

    public func savePeer(_ party: Party, endpoint: String, fingerprint: String) async throws(StoreError) {
        try NodeRules.peer(endpoint: endpoint, fingerprint: fingerprint)
        _ = try await transaction(.none) { c, logger in
            try await Self.execute(
                c,
                """
                INSERT INTO peers (party, endpoint, fingerprint) VALUES (\(party.code), \(endpoint), \(fingerprint))
                ON CONFLICT (party) DO UPDATE SET endpoint = EXCLUDED.endpoint, fingerprint = EXCLUDED.fingerprint
                """, logger)
        }
    }

    public func peer(_ party: Party) async throws(StoreError) -> PeerRecord {
        let p = try await read { c, logger in
            try await Self.rows(c, "SELECT \(unescaped: Self.peerColumns) FROM peers WHERE party = \(party.code)", logger).first.map(Self.peer)
        }
        guard let p else { throw StoreError(.notFound, "no peer \(party)") }
        return p
    }

    public func peers() async throws(StoreError) -> [PeerRecord] {
        try await read { c, logger in try await Self.rows(c, "SELECT \(unescaped: Self.peerColumns) FROM peers ORDER BY party", logger).map(Self.peer) }
    }

    public func recordPeerTreeHead(_ party: Party, size: Int, signed: [UInt8], at: Date) async throws(StoreError) {
        guard size >= 0 else { throw StoreError(.invalidInput, "a tree size is not negative") }
        try NodeRules.blob(signed, "the tree head", max: NodeRules.maximumEvidenceBytes)
        try NodeRules.instant(at, "the instant")
        _ = try await transaction(.none) { c, logger in
            guard let r = try await Self.rows(c, "SELECT tree_size, tree_head FROM peers WHERE party = \(party.code) FOR UPDATE", logger).first else {
                throw StoreError(.notFound, "no peer \(party)")
            }
            if let old = try r["tree_size"].decode(Int64?.self) {
                try NodeRules.peerTreeHead(
                    party, old: Int(old), oldHead: try r["tree_head"].decode(Data?.self).map { Array($0) }, new: size, newHead: signed)
            }
            try await Self.execute(
                c, "UPDATE peers SET tree_size = \(Int64(size)), tree_head = \(Data(signed)), tree_at = \(Self.ms(at)) WHERE party = \(party.code)", logger)
            // Kept among the peer's heads too (receipts name heads by size).
            try await Self.execute(
                c, "INSERT INTO peer_tree_heads (party, size, signed) VALUES (\(party.code), \(Int64(size)), \(Data(signed))) ON CONFLICT DO NOTHING", logger)
        }
    }

    public func setPeerAlarm(_ party: Party, _ alarm: String?, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        if let alarm { try NodeRules.text(alarm, "the alarm") }
        return try await transaction(ledger) { c, logger in
            guard try await !Self.rows(c, "UPDATE peers SET alarm = \(alarm) WHERE party = \(party.code) RETURNING party", logger).isEmpty else {
                throw StoreError(.notFound, "no peer \(party)")
            }
        }.1
    }

    // MARK: Users, sessions, API tokens

    static let userColumns =
        "u.name, u.display_name, u.party, u.roles, u.clearance_level, u.clearance_expires, u.categories, u.credential, u.disabled, u.created_at, u.failed_logins, u.locked_until"

    /// As SQLite's `v5-operators`: lock-out after repeated failed logins.
    static let operatorsMigration = """
        ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0 CHECK (failed_logins >= 0);
        ALTER TABLE users ADD COLUMN locked_until BIGINT
        """

    static func user(_ r: PostgresRandomAccessRow) throws -> UserRecord {
        let level = try r["clearance_level"].decode(String?.self), expires = try r["clearance_expires"].decode(Int64?.self)
        return UserRecord(
            name: try r["name"].decode(String.self), displayName: try r["display_name"].decode(String.self),
            party: try NodeRules.party(try r["party"].decode(String.self)), roles: try NodeRules.roles(try r["roles"].decode(String.self)),
            clearance: level.flatMap { l in expires.map { Clearance(level: l, expires: date($0)) } },
            categories: NodeRules.set(try r["categories"].decode(String.self)), credential: try r["credential"].decode(Data?.self).map { Array($0) },
            disabled: try r["disabled"].decode(Bool.self), createdAt: date(try r["created_at"].decode(Int64.self)),
            failedLogins: Int(try r["failed_logins"].decode(Int64.self)), lockedUntil: try r["locked_until"].decode(Int64?.self).map(date))
    }

    public func createUser(_ user: UserRecord, ledger: LedgerWrite) async throws(StoreError) {
        try NodeRules.user(user)
        _ = try await transaction(ledger) { c, logger in
            let inserted = try await Self.rows(
                c,
                """
                INSERT INTO users (name, display_name, party, roles, clearance_level, clearance_expires, categories, credential, disabled, created_at,
                    failed_logins, locked_until)
                VALUES (\(user.name), \(user.displayName), \(user.party.code), \(NodeRules.lines(user.roles.map(\.rawValue))), \(user.clearance?.level),
                    \(user.clearance.map { Self.ms($0.expires) }), \(NodeRules.lines(user.categories)), \(user.credential.map { Data($0) }), \(user.disabled),
                    \(Self.ms(user.createdAt)), \(Int64(user.failedLogins)), \(user.lockedUntil.map(Self.ms)))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger)
            guard !inserted.isEmpty else { throw StoreError(.duplicate, "user \(user.name) exists") }
        }
    }

    public func updateUser(_ user: UserRecord, ledger: LedgerWrite) async throws(StoreError) {
        try NodeRules.user(user)
        _ = try await transaction(ledger) { c, logger in
            let updated = try await Self.rows(
                c,
                """
                UPDATE users SET display_name = \(user.displayName), party = \(user.party.code), roles = \(NodeRules.lines(user.roles.map(\.rawValue))),
                    clearance_level = \(user.clearance?.level), clearance_expires = \(user.clearance.map { Self.ms($0.expires) }),
                    categories = \(NodeRules.lines(user.categories)), credential = \(user.credential.map { Data($0) }), disabled = \(user.disabled),
                    failed_logins = \(Int64(user.failedLogins)), locked_until = \(user.lockedUntil.map(Self.ms))
                WHERE name = \(user.name) RETURNING name
                """, logger)
            guard !updated.isEmpty else { throw StoreError(.notFound, "no user \(user.name)") }
        }
    }

    public func recordLoginFailure(_ name: String, limit: Int, lockUntil: Date, ledger: LedgerWrite) async throws(StoreError) -> UserRecord {
        try NodeRules.userName(name)
        try NodeRules.instant(lockUntil, "the end of the lock-out")
        guard limit >= 1 else { throw StoreError(.invalidInput, "the lock-out limit must be at least 1") }
        let limit = Int64(limit), until = Self.ms(lockUntil)
        return try await transaction(ledger) { c, logger in
            // The limit-th failure locks and starts the count again.
            guard
                let row = try await Self.rows(
                    c,
                    """
                    UPDATE users u SET
                        locked_until = CASE WHEN u.failed_logins + 1 >= \(limit) THEN \(until) ELSE u.locked_until END,
                        failed_logins = CASE WHEN u.failed_logins + 1 >= \(limit) THEN 0 ELSE u.failed_logins + 1 END
                    WHERE u.name = \(name) RETURNING \(unescaped: Self.userColumns)
                    """, logger
                ).first
            else { throw StoreError(.notFound, "no user \(name)") }
            return try Self.user(row)
        }.0
    }

    public func recordLoginSuccess(_ session: SessionRecord, ledger: LedgerWrite) async throws(StoreError) {
        try NodeRules.session(session)
        let now = Self.ms(session.createdAt)
        _ = try await transaction(ledger) { c, logger in
            let reset = try await Self.rows(
                c,
                """
                UPDATE users SET failed_logins = 0, locked_until = NULL
                WHERE name = \(session.user) AND NOT disabled AND (locked_until IS NULL OR locked_until <= \(now)) RETURNING name
                """, logger)
            guard !reset.isEmpty else {
                guard try await !Self.rows(c, "SELECT 1 AS one FROM users WHERE name = \(session.user)", logger).isEmpty else {
                    throw StoreError(.notFound, "no user \(session.user)")
                }
                throw StoreError(.conflict, "user \(session.user) is locked or disabled")
            }
            let inserted = try await Self.rows(
                c,
                """
                INSERT INTO sessions (token_hash, user_name, created_at, expires_at)
                VALUES (\(Data(session.tokenHash)), \(session.user), \(now), \(Self.ms(session.expiresAt)))
                ON CONFLICT (token_hash) DO NOTHING RETURNING 1 AS one
                """, logger)
            guard !inserted.isEmpty else { throw StoreError(.duplicate, "a session with this token exists") }
        }
    }

    public func user(_ name: String) async throws(StoreError) -> UserRecord {
        try NodeRules.userName(name)
        let u = try await read { c, logger in
            try await Self.rows(c, "SELECT \(unescaped: Self.userColumns) FROM users u WHERE u.name = \(name)", logger).first.map(Self.user)
        }
        guard let u else { throw StoreError(.notFound, "no user \(name)") }
        return u
    }

    public func users() async throws(StoreError) -> [UserRecord] {
        try await read { c, logger in try await Self.rows(c, "SELECT \(unescaped: Self.userColumns) FROM users u ORDER BY u.name", logger).map(Self.user) }
    }

    public func createSession(_ session: SessionRecord) async throws(StoreError) {
        try NodeRules.session(session)
        _ = try await transaction(.none) { c, logger in
            guard try await !Self.rows(c, "SELECT 1 AS one FROM users WHERE name = \(session.user)", logger).isEmpty else {
                throw StoreError(.notFound, "no user \(session.user)")
            }
            let inserted = try await Self.rows(
                c,
                """
                INSERT INTO sessions (token_hash, user_name, created_at, expires_at)
                VALUES (\(Data(session.tokenHash)), \(session.user), \(Self.ms(session.createdAt)), \(Self.ms(session.expiresAt)))
                ON CONFLICT (token_hash) DO NOTHING RETURNING 1 AS one
                """, logger)
            guard !inserted.isEmpty else { throw StoreError(.duplicate, "a session with this token exists") }
        }
    }

    public func session(tokenHash: [UInt8], now: Date) async throws(StoreError) -> (SessionRecord, UserRecord) {
        try NodeRules.digest(tokenHash, "the session token hash")
        try NodeRules.instant(now, "the instant")
        let found = try await read { c, logger -> (SessionRecord, UserRecord)? in
            guard
                let r = try await Self.rows(
                    c,
                    """
                    SELECT s.token_hash, s.user_name AS session_user, s.created_at AS session_created, s.expires_at, \(unescaped: Self.userColumns)
                    FROM sessions s JOIN users u ON u.name = s.user_name
                    WHERE s.token_hash = \(Data(tokenHash)) AND NOT s.revoked AND s.expires_at > \(Self.ms(now)) AND NOT u.disabled
                    """, logger
                ).first
            else { return nil }
            return (
                SessionRecord(
                    tokenHash: Array(try r["token_hash"].decode(Data.self)), user: try r["session_user"].decode(String.self),
                    createdAt: Self.date(try r["session_created"].decode(Int64.self)), expiresAt: Self.date(try r["expires_at"].decode(Int64.self))),
                try Self.user(r)
            )
        }
        guard let found else { throw StoreError(.notFound, "no live session for this token") }
        return found
    }

    public func revokeSession(tokenHash: [UInt8]) async throws(StoreError) {
        try NodeRules.digest(tokenHash, "the session token hash")
        _ = try await transaction(.none) { c, logger in
            guard try await !Self.rows(c, "UPDATE sessions SET revoked = TRUE WHERE token_hash = \(Data(tokenHash)) RETURNING 1 AS one", logger).isEmpty else {
                throw StoreError(.notFound, "no session for this token")
            }
        }
    }

    static let tokenColumns =
        "t.id AS token_id, t.name AS token_name, t.user_name AS token_user, t.token_hash, t.scopes, t.created_at AS token_created, t.expires_at, t.revoked"

    static func apiToken(_ r: PostgresRandomAccessRow) throws -> APITokenRecord {
        APITokenRecord(
            id: try r["token_id"].decode(String.self), name: try r["token_name"].decode(String.self), user: try r["token_user"].decode(String.self),
            tokenHash: Array(try r["token_hash"].decode(Data.self)), scopes: NodeRules.set(try r["scopes"].decode(String.self)),
            createdAt: date(try r["token_created"].decode(Int64.self)), expiresAt: try r["expires_at"].decode(Int64?.self).map(date),
            revoked: try r["revoked"].decode(Bool.self))
    }

    public func createAPIToken(_ token: APITokenRecord) async throws(StoreError) {
        try NodeRules.apiToken(token)
        _ = try await transaction(.none) { c, logger in
            guard try await !Self.rows(c, "SELECT 1 AS one FROM users WHERE name = \(token.user)", logger).isEmpty else {
                throw StoreError(.notFound, "no user \(token.user)")
            }
            do {
                try await Self.execute(
                    c,
                    """
                    INSERT INTO api_tokens (id, name, user_name, token_hash, scopes, created_at, expires_at, revoked)
                    VALUES (\(token.id), \(token.name), \(token.user), \(Data(token.tokenHash)), \(NodeRules.lines(token.scopes)), \(Self.ms(token.createdAt)),
                        \(token.expiresAt.map(Self.ms)), \(token.revoked))
                    """, logger)
            } catch where Self.sqlState(error) == "23505" {
                throw StoreError(.duplicate, "an API token with id \(token.id) or this secret exists")
            }
        }
    }

    public func apiToken(tokenHash: [UInt8], now: Date) async throws(StoreError) -> (APITokenRecord, UserRecord) {
        try NodeRules.digest(tokenHash, "the token hash")
        try NodeRules.instant(now, "the instant")
        let found = try await read { c, logger -> (APITokenRecord, UserRecord)? in
            guard
                let r = try await Self.rows(
                    c,
                    """
                    SELECT \(unescaped: Self.tokenColumns), \(unescaped: Self.userColumns) FROM api_tokens t JOIN users u ON u.name = t.user_name
                    WHERE t.token_hash = \(Data(tokenHash)) AND NOT t.revoked AND (t.expires_at IS NULL OR t.expires_at > \(Self.ms(now))) AND NOT u.disabled
                    """, logger
                ).first
            else { return nil }
            return (try Self.apiToken(r), try Self.user(r))
        }
        guard let found else { throw StoreError(.notFound, "no live API token with this secret") }
        return found
    }

    public func revokeAPIToken(id: String) async throws(StoreError) {
        try NodeRules.token(id: id)
        _ = try await transaction(.none) { c, logger in
            guard try await !Self.rows(c, "UPDATE api_tokens SET revoked = TRUE WHERE id = \(id) RETURNING 1 AS one", logger).isEmpty else {
                throw StoreError(.notFound, "no API token \(id)")
            }
        }
    }

    public func apiTokens(user: String) async throws(StoreError) -> [APITokenRecord] {
        try NodeRules.userName(user)
        return try await read { c, logger in
            try await Self.rows(c, "SELECT \(unescaped: Self.tokenColumns) FROM api_tokens t WHERE t.user_name = \(user) ORDER BY t.created_at, t.id", logger)
                .map(Self.apiToken)
        }
    }
}
