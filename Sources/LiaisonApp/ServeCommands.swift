internal import Foundation
internal import LiaisonFederation
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import LiaisonStorePostgres
internal import LiaisonStoreSQLite
public import Logging

/// What `liaison serve`, `liaison peer …` and `liaison demo` call.
extension Commands {
    /// Runs a node until SIGTERM or SIGINT (graceful: the senders finish the
    /// batches in flight, the server drains its connections).
    public static func serve(directory: String, config: String?, flags: [String: String], logLevel: Logger.Level) async -> CommandOutput {
        var logger = Logger(label: "liaison")
        logger.logLevel = logLevel
        do {
            let settings = try await ServeConfiguration.load(directory: directory, file: config, flags: flags)
            let runtime = try await NodeRuntime.open(settings, logger: logger)
            logger.info(
                "node starting",
                metadata: [
                    "liaison.node": "\(runtime.party)", "liaison.listen": "\(settings.host):\(settings.port)",
                    "liaison.peers": "\(runtime.peers.map(\.code).joined(separator: ","))",
                ])
            try await runtime.run(signals: true)
            var out = CommandOutput()
            out.stderr = ["\(runtime.party) node stopped"]
            return out
        } catch let e as AppError {
            return CommandOutput(failure: e.description)
        } catch {
            return CommandOutput(failure: "the node stopped: \(error)")
        }
    }

    /// The sync state of each peer: from the running node's status file
    /// when it is fresh, else from the store (the node is stopped).
    public static func peerStatus(directory: String, json: Bool) async -> CommandOutput {
        var out = CommandOutput()
        let file = directory + "/status.json"
        if let attributes = try? FileManager.default.attributesOfItem(atPath: file), let modified = attributes[.modificationDate] as? Date,
            Date().timeIntervalSince(modified) < 10, let data = FileManager.default.contents(atPath: file)
        {
            if json {
                out.stdout = [String(decoding: data, as: UTF8.self)]
                return out
            }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                return CommandOutput(failure: "\(file) is not a status document")
            }
            out.stdout = render(object)
            return out
        }
        do {
            let node = try NodeDirectory(path: directory).load()
            let store = try SQLiteStore(directory: directory, storageKey: try NodeDirectory(path: directory).storageKey())
            var peers: [[String: Any]] = []
            for p in try await store.peers() {
                let s = try await store.outboxSummary(peer: p.party)
                var row: [String: Any] = [
                    "party": p.party.code, "endpoint": p.endpoint, "queued": s.counts[.pending] ?? 0, "in_flight": s.counts[.claimed] ?? 0,
                    "delivered": s.counts[.done] ?? 0, "refused": s.counts[.refused] ?? 0,
                    "lag_seconds": s.oldestWaiting.map { max(0, Date().timeIntervalSince($0)) } ?? 0,
                ]
                if let v = s.lastError { row["last_error"] = v }
                if let v = p.alarm { row["alarm"] = v }
                if let v = p.treeSize { row["tree_size"] = v }
                peers.append(row)
            }
            let waiting = try await store.unacknowledgedStatements(peer: nil).map { t -> [String: Any] in
                ["peer": t.peer.code, "kind": t.kind, "queued": RFC3339.format(t.queuedAt), "waiting_seconds": Int(Date().timeIntervalSince(t.queuedAt))]
            }
            let object: [String: Any] = [
                "party": node.party.code, "at": RFC3339.format(Date()), "peers": peers, "unacknowledged_statements": waiting, "running": false,
                "ledger_size": try await store.size(),
            ]
            if json {
                out.stdout = [String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)]
            } else {
                out.stdout = render(object)
            }
            return out
        } catch let e as AppError {
            return CommandOutput(failure: e.description)
        } catch let e as StoreError where e.code == .locked {
            return CommandOutput(failure: "the node is running but its status file \(file) is missing or stale: \(e.reason)")
        } catch {
            return CommandOutput(failure: "\(error)")
        }
    }

    static func render(_ o: [String: Any]) -> [String] {
        var lines = ["\(o["party"] ?? "?") node at \(o["at"] ?? "?")\((o["running"] as? Bool) == false ? " (not running)" : ""), ledger \(o["ledger_size"] ?? 0) entries"]
        for p in (o["peers"] as? [[String: Any]]) ?? [] {
            var l = "  \(p["party"] ?? "?") \(p["endpoint"] ?? ""): queued \(p["queued"] ?? 0), in flight \(p["in_flight"] ?? 0), delivered \(p["delivered"] ?? 0), refused \(p["refused"] ?? 0), lag \(p["lag_seconds"] ?? 0) s"
            if let v = p["last_success"] { l += ", last success \(v)" }
            lines.append(l)
            if let v = p["last_error"] { lines.append("    last error: \(v)") }
            if let v = p["alarm"] { lines.append("    ALARM (exchange stopped until acknowledged): \(v)") }
        }
        let waiting = (o["unacknowledged_statements"] as? [[String: Any]]) ?? []
        lines.append("  unacknowledged statements: \(waiting.count)")
        for w in waiting { lines.append("    to \(w["peer"] ?? "?"), kind \(w["kind"] ?? "?"), waiting \(w["waiting_seconds"] ?? 0) s") }
        return lines
    }

    /// A security officer acknowledges a peer's alarm (the node must be stopped; issue it through the operator API while it runs).
    public static func acknowledgeAlarm(directory: String, party: String, officer: String) async -> CommandOutput {
        guard let p = Party(party) else { return CommandOutput(failure: "\(party) is not a party code") }
        do {
            let node = try NodeDirectory(path: directory).load()
            let store = try SQLiteStore(directory: directory, storageKey: try NodeDirectory(path: directory).storageKey())
            guard try await store.peer(p).alarm != nil else { return CommandOutput(failure: "\(p) has no alarm") }
            let key = node.signing, me = node.party
            let entry = LedgerEntry(kind: .peerAlarm, at: Date(), party: p, detail: "alarm acknowledged by \(officer)")
            _ = try await store.setPeerAlarm(
                p, nil, ledger: LedgerWrite([entry], sign: { size, root in try Signed(signing: TreeHead(party: me, size: size, root: root, at: Date()), with: key) }))
            var out = CommandOutput()
            out.stdout = ["\(p): alarm acknowledged by \(officer); exchange resumes when the node runs"]
            return out
        } catch let e as AppError {
            return CommandOutput(failure: e.description)
        } catch {
            return CommandOutput(failure: "\(error)")
        }
    }

    /// `liaison demo`: the live three-node story; exit 1 if an expectation fails.
    public static func demo(examples: String?, directory: String?, keepRunning: Bool, emit: @escaping @Sendable (String) -> Void) async -> Int32 {
        let dir: String
        do { dir = try ExampleSet.locate(examples) } catch {
            emit(error.description)
            return 1
        }
        var logger = Logger(label: "liaison-demo")
        logger.logLevel = .critical
        return await Demo(examples: dir, directory: directory, logger: logger, emit: emit).run(keepRunning: keepRunning) ? 0 : 1
    }
}
