import Foundation
import LiaisonApp
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonStorePostgres
import LiaisonStoreSQLite

/// Nodes run as `liaison serve` processes on loopback, each in its own
/// directory under `root`, with fresh keys and the agreements of
/// `Examples/` pinned to them: what the fault tests start, kill and
/// restart. The stores are SQLite in each directory, or one PostgreSQL
/// database per node.
final class ServedNodes: @unchecked Sendable {
    let root: String
    let liaison: String
    let parties: [Party]
    let ports: [Party: Int]
    /// The operator API's ports, when the nodes serve it.
    let consolePorts: [Party: Int]
    /// One database URL per node when the nodes run on PostgreSQL.
    let postgres: [Party: String]
    private var processes: [Party: Process] = [:]
    private var nodePIDs: [Party: Int32] = [:]

    /// Creates the nodes' directories, keys, pinned agreements and
    /// configuration files. `endpoint` gives the address a node uses for a
    /// peer (a proxy's, to put one between them); `settings` adds keys to
    /// every configuration file.
    init(
        root: String, liaison: String, examples: String, parties: [Party], postgres: [Party: String] = [:], lease: Double = 60,
        federation: [String: String] = [:], console: Bool = false, endpoint: ((_ from: Party, _ to: Party, _ port: Int) -> String)? = nil
    ) throws {
        (self.root, self.liaison, self.parties, self.postgres) = (root, liaison, parties, postgres)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var identities: [Party: NodeIdentity] = [:]
        var ports: [Party: Int] = [:]
        for p in parties {
            identities[p] = try NodeDirectory(path: Self.directory(root, p)).initialize(
                party: p, suite: .hybridPQ, hosts: ["127.0.0.1", "localhost"], now: Date())
            ports[p] = try LocalPostgresCluster.freePort()
        }
        self.ports = ports
        var consolePorts: [Party: Int] = [:]
        if console { for p in parties { consolePorts[p] = try LocalPostgresCluster.freePort() } }
        self.consolePorts = consolePorts
        try LocalFederation.pin(examples: examples, into: root + "/agreements", identities: identities)
        for p in parties {
            var yaml = """
                agreements: ../agreements
                listen:
                  host: 127.0.0.1
                  port: \(ports[p]!)
                console:
                  port: \(consolePorts[p].map(String.init) ?? "off")
                gossip:
                  interval: 1
                federation:
                  lease: \(lease)

                """
            for (key, value) in federation.sorted(by: { $0.key < $1.key }) { yaml += "  \(key): \(value)\n" }
            if let url = postgres[p] { yaml += "postgres:\n  url: \(url)\n" }
            yaml += "peers:\n"
            for q in parties where q != p {
                let address = endpoint?(p, q, ports[q]!) ?? "https://127.0.0.1:\(ports[q]!)"
                yaml += "  \(q.code):\n    endpoint: \(address)\n    identity: ../\(q.code.lowercased())/identity.der\n"
            }
            try yaml.write(toFile: Self.directory(root, p) + "/liaison.yaml", atomically: true, encoding: .utf8)
        }
    }

    static func directory(_ root: String, _ p: Party) -> String { "\(root)/\(p.code.lowercased())" }
    func directory(_ p: Party) -> String { Self.directory(root, p) }

    /// Starts the node and waits until its peer API answers.
    /// `wrapper`: a program that runs the node as its child (faketime).
    func start(_ p: Party, wrapper: [String] = [], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrapper.first ?? liaison)
        process.arguments = Array(wrapper.dropFirst()) + (wrapper.isEmpty ? [] : [liaison]) + ["serve", "--dir", directory(p), "--log-level", "warning"]
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, b in b } }
        process.standardOutput = FileHandle.nullDevice
        let log = "\(root)/\(p.code.lowercased()).log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        process.standardError = handle
        try process.run()
        // The child has its own copy of the descriptor.
        try? handle?.close()
        processes[p] = process
        nodePIDs[p] = process.processIdentifier
        if !wrapper.isEmpty {
            // The node is the wrapper's child: signals go to it.
            for _ in 0..<500 {
                if let child = Self.child(of: process.processIdentifier) {
                    nodePIDs[p] = child
                    break
                }
                usleep(10_000)
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while !Self.listening(ports[p]!) {
            guard process.isRunning else { throw FaultError("\(p)'s node exited at start (status \(process.terminationStatus)); see \(log)") }
            guard Date() < deadline else { throw FaultError("\(p)'s node did not listen within 60 s; see \(log)") }
            usleep(20_000)
        }
    }

    /// Kills the node with SIGKILL; true if the signal ended it.
    @discardableResult
    func kill(_ p: Party) -> Bool {
        guard let process = processes.removeValue(forKey: p), let pid = nodePIDs.removeValue(forKey: p) else { return false }
        Foundation.kill(pid, SIGKILL)
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }

    /// Stops the node with SIGTERM; true if it exited cleanly.
    @discardableResult
    func stop(_ p: Party) -> Bool {
        guard let process = processes.removeValue(forKey: p), let pid = nodePIDs.removeValue(forKey: p) else { return true }
        Foundation.kill(pid, SIGTERM)
        // A node that has not stopped in a minute is killed (and reported as not stopped cleanly).
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            Foundation.kill(pid, SIGKILL)
            process.waitUntilExit()
            return false
        }
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    func stopAll() { for p in parties { stop(p) } }

    func isRunning(_ p: Party) -> Bool { processes[p]?.isRunning ?? false }

    func pid(_ p: Party) -> Int32? { nodePIDs[p] }

    /// A child process of `parent` (Linux /proc).
    static func child(of parent: Int32) -> Int32? {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let status = try? String(contentsOfFile: "/proc/\(entry)/status", encoding: .utf8) else { continue }
            if status.split(separator: "\n").contains(where: { $0.hasPrefix("PPid:") && Int32($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) == parent }) {
                return pid
            }
        }
        return nil
    }

    /// The node process's resident memory and its peak, in MiB (Linux /proc).
    func memory(_ p: Party) -> (rss: Double, peak: Double)? {
        guard let pid = pid(p), let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return line.split(separator: " ").compactMap { Double($0) }.first.map { $0 / 1024 }
        }
        guard let rss = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return (rss, peak)
    }

    /// Bytes the node process has read so far (files and sockets; Linux /proc/PID/io).
    func bytesRead(_ p: Party) -> Int64? {
        guard let pid = pid(p), let text = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("rchar:") })
        else { return nil }
        return Int64(line.split(separator: " ").last ?? "")
    }

    /// The node's log (its standard error).
    func log(_ p: Party) -> String { (try? String(contentsOfFile: "\(root)/\(p.code.lowercased()).log", encoding: .utf8)) ?? "" }

    /// The node's status file (written every second while it runs).
    func status(_ p: Party) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: directory(p) + "/status.json") else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// A peer's figure from the node's status file (`delivered`, `queued`, …).
    func peerFigure(_ p: Party, peer: Party, _ key: String) -> Int? { peerEntry(p, peer)?[key] as? Int }

    /// The last error the node recorded for a peer, from its status file ("" when none).
    func lastError(_ p: Party, peer: Party) -> String { peerEntry(p, peer)?["last_error"] as? String ?? "" }

    private func peerEntry(_ p: Party, _ peer: Party) -> [String: Any]? {
        (status(p)?["peers"] as? [[String: Any]])?.first { $0["party"] as? String == peer.code }
    }

    /// Opens a stopped node's store (SQLite in its directory, or its PostgreSQL database).
    func openStore(_ p: Party) async throws -> any NodeStore {
        let key = try NodeDirectory(path: directory(p)).storageKey()
        if let url = postgres[p] {
            return try await PostgresStore(configuration: PostgresLocation(url: url).configuration(maximumConnections: 2), storageKey: key)
        }
        // A node just killed may hold the directory's lock a moment longer.
        for _ in 0..<100 {
            let opened = Result { () throws(StoreError) -> SQLiteStore in try SQLiteStore(directory: directory(p), storageKey: key) }
            if case .failure(let e) = opened, e.code == .locked {
                usleep(50_000)
                continue
            }
            return try opened.get()
        }
        return try SQLiteStore(directory: directory(p), storageKey: key)
    }

    /// The store's own integrity check (SQLite's `integrity_check`, or
    /// amcheck over every index on PostgreSQL), then the ledger re-derived
    /// from every entry and checked against the signed tree heads.
    func check(_ p: Party) async throws -> (integrity: String, ledger: LedgerVerification) {
        let store = try await openStore(p)
        let trust = try NodeDirectory(path: directory(p)).ledgerTrust()
        let integrity: String
        if let sqlite = store as? SQLiteStore {
            integrity = try await sqlite.integrityCheck()
        } else if let pg = store as? PostgresStore {
            integrity = try await pg.integrityCheck()
        } else {
            integrity = "unknown store"
        }
        return (integrity, try await store.verify(trust: trust))
    }

    static func listening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

struct FaultError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
