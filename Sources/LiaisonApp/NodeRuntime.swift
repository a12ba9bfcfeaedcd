public import Foundation
public import LiaisonFederation
public import LiaisonHTTP
public import LiaisonModel
public import LiaisonSealing
public import LiaisonStore
internal import LiaisonStorePostgres
internal import LiaisonStoreSQLite
public import Logging
internal import ServiceLifecycle
internal import Synchronization
internal import UnixSignals

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// What a node runs with (`liaison serve`, the demo, the tests).
public struct NodeSettings: Sendable {
    /// The node's directory: keys, identity, embedded store.
    public var directory: String
    /// Agreements and their statements, in the layout of `Examples/`
    /// (`agreements/*.yaml`, `statements/<id>.yaml`), with this node's and
    /// its peers' anchors pinned.
    public var agreements: String
    public var host = "127.0.0.1"
    /// 0: any free port (reported once listening).
    public var port = 0
    /// Each peer's published identity, and its endpoint once known.
    public var peers: [Party: Peer] = [:]
    /// PostgreSQL instead of the embedded SQLite store.
    public var postgresURL: String?
    public var gossipInterval: TimeInterval = 10
    /// Seconds a connection to either API has to finish its TLS handshake.
    public var handshakeDeadline: TimeInterval = 10
    public var federation = Federation.Configuration()
    /// The operator surfaces (JSON API; HTTPS with the node's certificate):
    /// where they listen, `nil` port for none (0: any free port).
    public var consoleHost = "127.0.0.1"
    public var consolePort: Int? = 0
    public var accounts = Accounts.Policy()

    public struct Peer: Sendable {
        public var identity: NodeIdentity
        public var endpoint: String?
        public init(identity: NodeIdentity, endpoint: String?) { (self.identity, self.endpoint) = (identity, endpoint) }
    }

    public init(directory: String, agreements: String) { (self.directory, self.agreements) = (directory, agreements) }
}

/// One running node: its store, its federation services, its peer API
/// over mutual TLS, and the links to its peers (STYLE habit 8: tests build
/// nodes with this and talk to them over real sockets).
public final class NodeRuntime: Sendable {
    public let party: Party
    public let federation: Federation
    public let store: any NodeStore
    public let settings: NodeSettings
    public let ledgerTrust: TrustStore
    /// The node's users, sessions and tokens.
    public let accounts: Accounts
    /// The node's metrics (`/metrics`).
    public let metrics = NodeMetrics()
    let tls: PeerTLS
    let verifier: PeerVerifier
    let links: PeerLinks
    let logger: Logger
    let listening = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))
    let consoleListening = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))
    let group = Mutex<ServiceGroup?>(nil)

    /// Opens the node's store and keys, loads and checks its agreements,
    /// records what it starts under in its ledger.
    public static func open(_ settings: NodeSettings, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }) async throws(AppError)
        -> NodeRuntime
    {
        let directory = NodeDirectory(path: settings.directory)
        let node = try directory.load()
        let set = try ExampleSet(directory: settings.agreements)
        let agreements = Array(set.agreements.values)
        let identities = [node.identity] + settings.peers.values.map(\.identity)
        let trust: TrustStore
        do { trust = try TrustStore(agreements: agreements, identities: identities) } catch {
            throw AppError(.refused, "the identities are not pinned by the agreements in \(settings.agreements): \(error.reason)")
        }
        let tls: PeerTLS
        do {
            let credentials = try directory.tlsCredentials()
            tls = try PeerTLS(
                certificatePEM: credentials.certificate, keyPEM: credentials.key, identities: settings.peers.values.map(\.identity), agreements: agreements)
        } catch let e as AppError {
            throw e
        } catch {
            throw AppError(.refused, "\(error)")
        }
        let store: any NodeStore
        do {
            if let url = settings.postgresURL {
                store = try await PostgresStore(configuration: PostgresLocation(url: url).configuration(), storageKey: try directory.storageKey())
            } else {
                store = try await openWaiting(settings.directory, try directory.storageKey())
            }
        } catch let e as AppError {
            throw e
        } catch {
            throw AppError(.unreadableFile, "the node's store does not open: \(error)")
        }
        // The agreements' own statements, then the signed ones this node recorded.
        var book = set.book()
        do {
            for id in set.agreements.keys {
                let recorded = try await store.statements(agreement: id)
                guard !recorded.isEmpty, let lifecycle = book[id] else { continue }
                var statements = lifecycle.accepted
                for r in recorded {
                    let s = try Signed<StatementDocument>(canonical: r.signed).verified(by: trust).statement
                    if !statements.contains(s) { statements.append(s) }
                }
                book.insert(AgreementLifecycle(agreement: lifecycle.agreement, statements: statements))
            }
        } catch {
            throw AppError(.invalidDocument, "a recorded statement does not verify: \(error)")
        }
        for (party, peer) in settings.peers {
            do {
                try await store.savePeer(party, endpoint: peer.endpoint ?? "(not yet known)", fingerprint: peer.identity.signingKey.fingerprint)
            } catch {
                throw AppError(.unreadableFile, "cannot record peer \(party): \(error)")
            }
        }
        let federation = Federation(
            party: node.party, store: store, signing: node.signing, decryption: node.decryption, trust: trust, book: book,
            configuration: settings.federation, logger: logger, clock: clock)
        // The ledger records what the node starts under (and so always has a signed head).
        let digests = set.agreements.values.sorted { $0.id < $1.id }.map { "\($0.id)@\(Hex.encode($0.digest.prefix(8)))" }
        do {
            _ = try await store.append(
                [LedgerEntry(kind: .lifecycleStatement, at: clock(), detail: "node started under \(digests.joined(separator: ", "))")],
                sign: federation.treeHeadSigner)
        } catch {
            throw AppError(.unreadableFile, "cannot write the node's ledger: \(error)")
        }
        guard let scheme = book.lifecycles.values.sorted(by: { $0.agreement.id < $1.agreement.id }).lazy.compactMap({ $0.agreement.scheme(of: node.party) }).first
        else {
            throw AppError(.refused, "no agreement in \(settings.agreements) gives \(node.party)'s classification scheme")
        }
        let accounts = Accounts(party: node.party, store: store, scheme: scheme, policy: settings.accounts, sign: federation.treeHeadSigner, clock: clock)
        var ledgerTrust = TrustStore()
        ledgerTrust.pin(node.identity.signingKey, of: node.party)
        let me = node.party
        let verifier = PeerVerifier(
            roots: tls.roots,
            parties: { now in
                Set(
                    federation.book.lifecycles.values.filter { $0.agreement.isParty(me) && $0.isInForce(at: now) }
                        .flatMap { $0.agreement.partyCodes }
                ).subtracting([me])
            }, clock: clock)
        return NodeRuntime(
            party: node.party, federation: federation, store: store, settings: settings, ledgerTrust: ledgerTrust, accounts: accounts, tls: tls,
            verifier: verifier, links: PeerLinks(tls: tls, endpoints: settings.peers.compactMapValues(\.endpoint)), logger: logger)
    }

    /// A command reading the stopped node (`peer status`) holds the
    /// directory's lock for a moment: wait for it, five seconds at most.
    static func openWaiting(_ directory: String, _ key: StorageKey) async throws(StoreError) -> SQLiteStore {
        var attempt = 0
        while true {
            do { return try SQLiteStore(directory: directory, storageKey: key) } catch {
                attempt += 1
                guard error.code == .locked, attempt < 50 else { throw error }
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
    }

    init(
        party: Party, federation: Federation, store: any NodeStore, settings: NodeSettings, ledgerTrust: TrustStore, accounts: Accounts,
        tls: PeerTLS, verifier: PeerVerifier, links: PeerLinks, logger: Logger
    ) {
        (self.party, self.federation, self.store, self.settings, self.ledgerTrust) = (party, federation, store, settings, ledgerTrust)
        self.accounts = accounts
        (self.tls, self.verifier, self.links, self.logger) = (tls, verifier, links, logger)
        let metrics = self.metrics
        federation.observePhases { peer, phase, took in metrics.record(phase, with: peer, took: took) }
    }

    /// The peers this node exchanges with.
    public var peers: [Party] { settings.peers.keys.sorted { $0.code < $1.code } }

    /// Sets (or changes) where a peer is reached.
    public func connect(_ peer: Party, endpoint: String) async {
        links.set(peer, endpoint: endpoint)
        try? await store.savePeer(peer, endpoint: endpoint, fingerprint: settings.peers[peer]?.identity.signingKey.fingerprint ?? "")
    }

    /// The transport to a peer (its current endpoint).
    public func transport(to peer: Party) -> any PeerTransport { LinkTransport(peer: peer, links: links) }

    /// The port the peer API listens on, once it does.
    public func port() async -> Int { await Self.wait(for: listening) }

    /// The port the operator surfaces listen on, once they do (never, if they are off).
    public func consolePort() async -> Int { await Self.wait(for: consoleListening) }

    static func wait(for listening: borrowing Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>) async -> Int {
        await withCheckedContinuation { c in
            let port = listening.withLock { l -> Int? in
                if l.port == nil { l.waiters.append(c) }
                return l.port
            }
            if let port { c.resume(returning: port) }
        }
    }

    func listeningOn(_ port: Int) { Self.announce(port, listening) }

    static func announce(_ port: Int, _ listening: borrowing Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>) {
        let waiters = listening.withLock { l -> [CheckedContinuation<Int, Never>] in
            l.port = port
            defer { l.waiters = [] }
            return l.waiters
        }
        for w in waiters { w.resume(returning: port) }
    }

    /// Runs the node until cancelled or, with `signals`, until SIGTERM or
    /// SIGINT: the peer API, a sender and a gossip loop per peer, in one
    /// ServiceGroup. On shutdown the senders stop claiming, finish the
    /// batches in flight, and the server drains its connections.
    public func run(signals: Bool) async throws {
        let app = try PeerAPI.application(
            federation: federation, tls: tls, verifier: verifier, host: settings.host, port: settings.port, logger: logger,
            handshakeDeadline: settings.handshakeDeadline,
            onRunning: { [self] port in
                listeningOn(port)
                logger.info("peer API listening", metadata: ["liaison.node": "\(party)", "liaison.port": "\(port)"])
            })
        let exchange = ExchangeService(runtime: self)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app), .init(service: exchange)]
        if let consolePort = settings.consolePort {
            let console = try OperatorAPI.application(
                federation: federation, accounts: accounts, ledgerTrust: ledgerTrust, metrics: metrics, tls: tls.operatorConfiguration(), host: settings.consoleHost, port: consolePort,
                logger: logger, handshakeDeadline: settings.handshakeDeadline,
                onRunning: { [self] port in
                    Self.announce(port, consoleListening)
                    logger.info("operator API listening", metadata: ["liaison.node": "\(party)", "liaison.url": "https://\(settings.consoleHost):\(port)/"])
                })
            services.append(.init(service: console))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], cancellationSignals: [], logger: logger))
        self.group.withLock { $0 = group }
        // The group holds services that hold this runtime: let it go when it ends.
        defer { self.group.withLock { $0 = nil } }
        try await group.run()
        await links.shutdown()
    }

    /// Shuts the node down as SIGTERM does: the senders finish the batches
    /// in flight and stop claiming, then the server drains.
    /// Returns false if the node is not running (nothing to shut down).
    @discardableResult
    public func shutdown() async -> Bool {
        guard let group = group.withLock({ $0 }) else { return false }
        await group.triggerGracefulShutdown()
        return true
    }
}

extension NodeRuntime {
    /// The sync state of every peer as JSON: what `liaison peer status`
    /// reads while the node runs (it holds the store's lock).
    public func statusJSON() async throws -> [UInt8] {
        let now = Date()
        var peers: [[String: Any]] = []
        for s in try await federation.status() {
            var p: [String: Any] = [
                "party": s.party.code, "endpoint": s.endpoint, "queued": s.queued, "in_flight": s.inFlight, "delivered": s.delivered,
                "refused": s.refused, "lag_seconds": (s.lag * 1000).rounded() / 1000, "sent_this_run": s.sentThisRun, "received_this_run": s.receivedThisRun,
            ]
            if let v = s.lastSuccess { p["last_success"] = RFC3339.format(v) }
            if let v = s.lastError { p["last_error"] = v }
            if let v = s.alarm { p["alarm"] = v }
            if let v = s.treeSize { p["tree_size"] = v }
            peers.append(p)
        }
        let unacknowledged = try await federation.unacknowledgedStatements().map { w -> [String: Any] in
            ["peer": w.task.peer.code, "kind": w.task.kind, "queued": RFC3339.format(w.task.queuedAt), "waiting_seconds": Int(w.waiting)]
        }
        let object: [String: Any] = [
            "party": party.code, "at": RFC3339.format(now), "port": listening.withLock { $0.port } ?? 0, "peers": peers,
            "unacknowledged_statements": unacknowledged, "refusals": federation.refusalCounts,
            "ledger_size": try await store.size(),
        ]
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]))
    }

    func writeStatus() async {
        guard let bytes = try? await statusJSON() else { return }
        let file = settings.directory + "/status.json"
        let temporary = file + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)), rename(temporary, file) == 0 else {
            logger.warning("cannot write the status file", metadata: ["liaison.file": "\(file)"])
            return
        }
    }
}

/// The senders and gossip loops of every peer, as one service.
struct ExchangeService: Service {
    let runtime: NodeRuntime
    func run() async throws {
        let federation = runtime.federation
        let interval = runtime.settings.gossipInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        _ = try? await runtime.federation.checkpoint()
                        await runtime.writeStatus()
                        try? await Task.sleep(nanoseconds: 1_000_000_000)
                    }
                }
            }
            for peer in runtime.peers {
                let transport = runtime.transport(to: peer)
                group.addTask { await federation.runSenders(to: peer, over: transport, stop: { Task.isShuttingDownGracefully }) }
                group.addTask {
                    await cancelWhenGracefulShutdown {
                        await federation.runGossip(with: peer, over: transport, interval: interval)
                    }
                }
            }
        }
    }
}

/// Where each peer is reached; transports made when first needed.
final class PeerLinks: PeerDirectory {
    let tls: PeerTLS
    private let state: Mutex<(endpoints: [Party: String], transports: [Party: HTTPPeerTransport])>

    init(tls: PeerTLS, endpoints: [Party: String]) {
        self.tls = tls
        state = Mutex((endpoints, [:]))
    }

    func set(_ peer: Party, endpoint: String) {
        let old = state.withLock { s -> HTTPPeerTransport? in
            s.endpoints[peer] = endpoint
            return s.transports.removeValue(forKey: peer)
        }
        if let old { Task { await old.shutdown() } }
    }

    func transport(to peer: Party) -> (any PeerTransport)? { http(peer) }

    func http(_ peer: Party) -> HTTPPeerTransport? {
        state.withLock { s -> HTTPPeerTransport? in
            if let t = s.transports[peer] { return t }
            guard let endpoint = s.endpoints[peer], !endpoint.isEmpty, let t = try? HTTPPeerTransport(peer: peer, endpoint: endpoint, tls: tls) else {
                return nil
            }
            s.transports[peer] = t
            return t
        }
    }

    func shutdown() async {
        let all = state.withLock { s -> [HTTPPeerTransport] in
            defer { s.transports = [:] }
            return Array(s.transports.values)
        }
        for t in all { await t.shutdown() }
    }
}

/// A peer's transport as it is now (its endpoint may be set later).
struct LinkTransport: PeerTransport {
    let peer: Party
    let links: PeerLinks
    func current() throws(FederationError) -> HTTPPeerTransport {
        guard let t = links.http(peer) else { throw FederationError(.transport, "no endpoint is configured for \(peer)") }
        return t
    }
    func sendBatch(_ batch: [UInt8], knownSize: Int?) async throws(FederationError) -> [UInt8] { try await current().sendBatch(batch, knownSize: knownSize) }
    func treeHead() async throws(FederationError) -> [UInt8] { try await current().treeHead() }
    func consistencyProof(from old: Int, to new: Int) async throws(FederationError) -> [UInt8] {
        try await current().consistencyProof(from: old, to: new)
    }
    func sendStatements(_ bundle: [UInt8]) async throws(FederationError) -> [UInt8] { try await current().sendStatements(bundle) }
}
