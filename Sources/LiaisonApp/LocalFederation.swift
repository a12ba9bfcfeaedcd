public import Foundation
public import LiaisonModel
public import LiaisonSealing
public import Logging
internal import Synchronization

/// Several nodes on this machine's loopback, each with fresh keys in its
/// own directory, the agreements of `Examples/` with their anchors pinned,
/// talking over mutual TLS: what `liaison demo` and the integration tests
/// run.
public final class LocalFederation: Sendable {
    public let directory: String
    private let runtimes: Mutex<[Party: NodeRuntime]>
    private let tasks: Mutex<[Party: Task<Void, Never>]>
    let logger: Logger
    let clock: @Sendable () -> Date

    public var nodes: [Party: NodeRuntime] { runtimes.withLock { $0 } }

    /// Creates the nodes' directories and the pinned agreements under
    /// `directory` (a new temporary one when nil), starts every node, and
    /// connects each to the others' addresses.
    public static func start(
        parties: [Party], examples: String, directory: String? = nil, logger: Logger,
        configure: (inout NodeSettings) -> Void = { _ in }, clock: @escaping @Sendable () -> Date = { Date() }
    ) async throws(AppError) -> LocalFederation {
        let root = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("liaison-\(UUID().uuidString.prefix(8))").path
        let now = clock()
        var identities: [Party: NodeIdentity] = [:]
        for p in parties {
            identities[p] = try NodeDirectory(path: "\(root)/\(p.code.lowercased())").initialize(
                party: p, suite: .hybridPQ, hosts: ["127.0.0.1", "localhost"], now: now)
        }
        let agreements = "\(root)/agreements"
        try pin(examples: examples, into: agreements, identities: identities)
        var runtimes: [Party: NodeRuntime] = [:]
        for p in parties {
            var settings = NodeSettings(directory: "\(root)/\(p.code.lowercased())", agreements: agreements)
            settings.peers = Dictionary(uniqueKeysWithValues: parties.filter { $0 != p }.map { ($0, NodeSettings.Peer(identity: identities[$0]!, endpoint: nil)) })
            configure(&settings)
            runtimes[p] = try await NodeRuntime.open(settings, logger: logger, clock: clock)
        }
        let federation = LocalFederation(directory: root, nodes: runtimes, logger: logger, clock: clock)
        for (p, r) in runtimes { federation.launch(p, r) }
        var ports: [Party: Int] = [:]
        for (p, r) in runtimes { ports[p] = await r.port() }
        for (p, r) in runtimes {
            for q in parties where q != p { await r.connect(q, endpoint: "https://127.0.0.1:\(ports[q]!)") }
        }
        return federation
    }

    init(directory: String, nodes: [Party: NodeRuntime], logger: Logger, clock: @escaping @Sendable () -> Date) {
        self.directory = directory
        runtimes = Mutex(nodes)
        tasks = Mutex([:])
        self.logger = logger
        self.clock = clock
    }

    func launch(_ p: Party, _ r: NodeRuntime) {
        let logger = self.logger
        tasks.withLock {
            $0[p] = Task {
                do { try await r.run(signals: false) } catch { logger.error("node stopped", metadata: ["liaison.node": "\(p)", "liaison.error": "\(error)"]) }
            }
        }
    }

    public subscript(_ p: Party) -> NodeRuntime {
        guard let r = runtimes.withLock({ $0[p] }) else { preconditionFailure("no running node for \(p) (it did not restart?)") }
        return r
    }

    /// Shuts a node down gracefully (as SIGTERM does) and waits until it has stopped.
    public func shutdown(_ p: Party) async {
        guard let task = tasks.withLock({ $0.removeValue(forKey: p) }) else { return }
        if let r = runtimes.withLock({ $0[p] }) {
            // Started nodes listen; one that is not running yet is cancelled.
            _ = await r.port()
            if !(await r.shutdown()) { task.cancel() }
        }
        await task.value
    }

    /// Opens a stopped node again from its directory (same store, same
    /// keys, same port) and starts it; `configure` may change its settings.
    public func restart(_ p: Party, configure: (inout NodeSettings) -> Void = { _ in }) async throws(AppError) {
        guard let old = runtimes.withLock({ $0.removeValue(forKey: p) }) else { return }
        var settings = old.settings
        settings.port = await old.port()
        configure(&settings)
        _ = consume old
        let runtime = try await Self.reopen(settings, logger: logger, clock: clock)
        runtimes.withLock { $0[p] = runtime }
        launch(p, runtime)
        _ = await runtime.port()
        for (q, other) in nodes where q != p {
            await runtime.connect(q, endpoint: "https://127.0.0.1:\(await other.port())")
        }
    }

    /// The store of a node that just stopped may take a moment to release its directory.
    static func reopen(_ settings: NodeSettings, logger: Logger, clock: @escaping @Sendable () -> Date) async throws(AppError) -> NodeRuntime {
        var attempt = 0
        while true {
            do { return try await NodeRuntime.open(settings, logger: logger, clock: clock) } catch {
                attempt += 1
                if attempt > 50 { throw error }
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
    }

    /// The peer API address of a node.
    public func address(of p: Party) async -> String { "https://127.0.0.1:\(await nodes[p]!.port())" }

    /// Stops one node gracefully (its store stays on disk).
    public func stop(_ p: Party) async { await shutdown(p) }

    /// Stops every node.
    public func stop() async {
        for p in nodes.keys { await stop(p) }
    }

    /// Writes the agreements and statements of `examples` into `directory`
    /// with each party's anchors pinned (what the parties' signed copies
    /// would hold), and the schemes they refer to.
    public static func pin(examples: String, into directory: String, identities: [Party: NodeIdentity]) throws(AppError) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory + "/agreements", withIntermediateDirectories: true)
            for sub in ["schemes", "statements"] where !fm.fileExists(atPath: "\(directory)/\(sub)") {
                try fm.copyItem(atPath: "\(examples)/\(sub)", toPath: "\(directory)/\(sub)")
            }
            for file in try fm.contentsOfDirectory(atPath: examples + "/agreements").filter({ $0.hasSuffix(".yaml") }).sorted() {
                let text = try String(contentsOfFile: "\(examples)/agreements/\(file)", encoding: .utf8)
                var out: [String] = []
                var party: Party?
                for line in text.components(separatedBy: "\n") {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if trimmed.hasPrefix("- party:") {
                        party = Party(String(trimmed.dropFirst("- party:".count)).trimmingCharacters(in: .whitespaces))
                    }
                    if trimmed.hasPrefix("trust_anchors:"), let p = party, let id = identities[p] {
                        let indent = String(line.prefix { $0 == " " })
                        out.append("\(indent)trust_anchors:")
                        for a in id.anchors { out.append("\(indent)  - {kind: \(a.kind), fingerprint: \"\(a.fingerprint)\"}") }
                        continue
                    }
                    out.append(line)
                }
                try out.joined(separator: "\n").write(toFile: "\(directory)/agreements/\(file)", atomically: true, encoding: .utf8)
            }
        } catch {
            throw AppError(.unreadableFile, "cannot write the pinned agreements into \(directory): \(error)")
        }
    }
}
