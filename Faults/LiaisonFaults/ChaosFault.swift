import ArgumentParser
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import LiaisonApp
import LiaisonHTTP
import LiaisonModel
import LiaisonSealing
import LiaisonStorePostgres
import LiaisonTesting
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// Fault 2: an envelope-level chaos proxy between KOR and JPN (both
/// `liaison serve`). It terminates KOR's mutual TLS with JPN's certificate
/// and speaks to JPN with KOR's (the test holds both nodes' keys), so it
/// sees whole batches: it drops requests or replies, delays, duplicates,
/// holds batches back so later ones overtake them, replays old ones, and
/// cuts the link for a minute. At the end every item must be at JPN once.
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drop, delay, duplicate, reorder and replay batches between two nodes and cut the link; every item applied exactly once.")

    @Option(help: "Items to transfer (1 KiB each).") var items = 20_000
    @Option(help: "Envelopes per batch (small batches: more of them for the proxy to mistreat).") var batchSize = 100
    @Option(help: "Seconds the link is cut.") var cut = 60.0
    @Option(help: "Seconds after the start when the cut begins.") var cutAfter = 5.0
    @Option(help: "Probability of each mistreatment per batch.") var rate = 0.05
    @Option(help: "Random seed (default: random, printed).") var seed: UInt64?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let root = try common.workDirectory("chaos")
        let proxyPort = try LocalPostgresCluster.freePort()
        print("chaos: \(items) items of 1 KiB KOR → JPN in batches of \(batchSize) through a proxy; each mistreatment at \(rate); link cut for \(Int(cut)) s after \(Int(cutAfter)) s; seed \(seed); in \(root)")
        let nodes = try ServedNodes(
            root: root, liaison: try common.liaisonBinary(), examples: try common.examplesDirectory(), parties: [.kor, .jpn],
            federation: ["batch-size": "\(batchSize)", "pipeline": "4"],
            endpoint: { from, to, port in from == .kor && to == .jpn ? "https://127.0.0.1:\(proxyPort)" : "https://127.0.0.1:\(port)" })
        defer { nodes.stopAll() }
        try Preload.run(directory: nodes.directory(.kor), items: items)
        let proxy = try ChaosProxy(nodes: nodes, port: proxyPort, rate: rate, seed: seed)
        var logger = Logger(label: "liaison-chaos")
        logger.logLevel = .critical
        let app = try proxy.application(logger: logger)
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        while !ServedNodes.listening(proxyPort) { try await Task.sleep(nanoseconds: 20_000_000) }
        try nodes.start(.jpn)
        try nodes.start(.kor)
        let started = Date()
        func delivered() -> Int { nodes.peerFigure(.kor, peer: .jpn, "delivered") ?? 0 }
        try await Task.sleep(nanoseconds: UInt64(cutAfter * 1e9))
        let atCut = delivered()
        proxy.cut(for: cut)
        print(String(format: "cut at %.1f s with %d/%d delivered", Date().timeIntervalSince(started), atCut, items))
        try await Task.sleep(nanoseconds: UInt64(cut * 1e9))
        let restored = Date()
        print("link restored with \(delivered())/\(items) delivered")
        let deadline = restored.addingTimeInterval(300 + Double(items) / 200)
        while delivered() < items, Date() < deadline { try await Task.sleep(nanoseconds: 100_000_000) }
        let drained = delivered() >= items
        let drain = Date().timeIntervalSince(restored)
        // KOR stops (no batch comes any more); replays still scheduled are sent before counting.
        guard nodes.stop(.kor) else { throw FaultError("KOR did not stop cleanly on SIGTERM") }
        await proxy.finishReplays()
        guard nodes.stop(.jpn) else { throw FaultError("JPN did not stop cleanly on SIGTERM") }
        server.cancel()
        let count = try await Count.transfer(nodes, from: .kor, to: .jpn, expected: items)
        print(proxy.report())
        print(count.description)
        print(
            "result: \(items) items: \(drained ? "drained" : "NOT DRAINED") \(String(format: "%.1f", drain)) s after the \(Int(cut)) s cut; lost \(count.lost), applied twice \(count.duplicated); replays answered with their first outcome \(proxy.replaysAnswered)/\(proxy.replaysSent)"
        )
        // The cut fell during the transfer, and the proxy did replay batches.
        guard drained, count.lost == 0, count.duplicated == 0, count.complete, proxy.replaysAnswered == proxy.replaysSent, proxy.replaysSent > 0, atCut < items
        else { throw ExitCode(1) }
        if common.dir == nil { try? FileManager.default.removeItem(atPath: root) }
    }
}

/// The proxy: JPN's face towards KOR, KOR's towards JPN.
final class ChaosProxy: Sendable {
    let client: HTTPClient
    let target: String
    let port: Int
    let rate: Double
    let serverTLS: PeerTLS
    let verifier: PeerVerifier
    private let state: Mutex<State>

    struct State {
        var random: SplitMix
        var counts: [String: Int] = [:]
        var cutUntil: Date?
        var replays: [Task<Bool, Never>] = []
    }

    init(nodes: ServedNodes, port: Int, rate: Double, seed: UInt64) throws {
        let kor = NodeDirectory(path: nodes.directory(.kor)), jpn = NodeDirectory(path: nodes.directory(.jpn))
        let set = try ExampleSet(directory: nodes.root + "/agreements")
        let agreements = Array(set.agreements.values)
        let korNode = try kor.load(), jpnNode = try jpn.load()
        let asKOR = try kor.tlsCredentials(), asJPN = try jpn.tlsCredentials()
        let clientTLS = try PeerTLS(certificatePEM: asKOR.certificate, keyPEM: asKOR.key, identities: [jpnNode.identity], agreements: agreements)
        serverTLS = try PeerTLS(certificatePEM: asJPN.certificate, keyPEM: asJPN.key, identities: [korNode.identity], agreements: agreements)
        verifier = PeerVerifier(roots: serverTLS.roots, parties: { _ in [.kor] }, clock: { Date() })
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: try clientTLS.clientConfiguration(for: .jpn), timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        target = "https://127.0.0.1:\(nodes.ports[.jpn]!)"
        (self.port, self.rate) = (port, rate)
        state = Mutex(State(random: SplitMix(seed: seed)))
    }

    deinit { try? client.syncShutdown() }

    func cut(for seconds: Double) { state.withLock { $0.cutUntil = Date().addingTimeInterval(seconds) } }

    var replaysSent: Int { state.withLock { $0.counts["replayed", default: 0] } }
    var replaysAnswered: Int { state.withLock { $0.counts["replay answered with its first outcome", default: 0] } }

    func finishReplays() async {
        let tasks = state.withLock { $0.replays }
        for t in tasks { _ = await t.value }
    }

    func report() -> String {
        let counts = state.withLock { $0.counts }
        return "proxy: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    private func count(_ what: String) { state.withLock { $0.counts[what, default: 0] += 1 } }
    private func roll() -> Double { state.withLock { $0.random.uniform(0, 1) } }
    private func between(_ a: Double, _ b: Double) -> Double { state.withLock { $0.random.uniform(a, b) } }

    /// While the link is cut, a request goes nowhere: it waits until the
    /// cut ends (the sender's read deadline ends it first) and fails.
    private func blackHole() async throws {
        guard let until = state.withLock({ $0.cutUntil }), until > Date() else { return }
        count("lost in the cut")
        try await Task.sleep(nanoseconds: UInt64(max(0, until.timeIntervalSinceNow) * 1e9))
        throw HTTPError(.serviceUnavailable, message: "the link was cut")
    }

    /// Forwards a request to JPN as KOR; JPN's answer as it came.
    private func forward(_ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: HTTPFields) async throws -> (status: Int, body: [UInt8], type: String?) {
        var request = HTTPClientRequest(url: target + path)
        request.method = method
        for field in headers where [.contentType, HTTPField.Name(PeerAPI.knownSizeHeader)!].contains(field.name) {
            request.headers.add(name: field.name.rawName, value: field.value)
        }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 256 << 20)
        return (Int(response.status.code), Array(buffer: bytes), response.headers.first(name: "Content-Type"))
    }

    private func respond(_ r: (status: Int, body: [UInt8], type: String?)) -> Response {
        var headers = HTTPFields()
        if let type = r.type { headers[.contentType] = type }
        return Response(status: .init(code: r.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: r.body)))
    }

    /// A batch, mistreated or not.
    func batch(_ request: Request, _ body: [UInt8]) async throws -> Response {
        try await blackHole()
        count("batches")
        if roll() < rate {
            count("dropped before JPN")
            throw HTTPError(.serviceUnavailable, message: "dropped")
        }
        if roll() < rate {
            // Held back while later batches pass it.
            count("held back (overtaken)")
            try await Task.sleep(nanoseconds: UInt64(between(1, 3) * 1e9))
        }
        if roll() < rate {
            count("delayed")
            try await Task.sleep(nanoseconds: UInt64(between(0, 2) * 1e9))
        }
        let answer = try await forward(.POST, "/federation/v1/batches", body: body, headers: request.headers)
        if roll() < rate {
            count("duplicated")
            _ = try? await forward(.POST, "/federation/v1/batches", body: body, headers: request.headers)
        }
        if roll() < rate, answer.status == 200 {
            // Played back later; the answer must be the first one again.
            count("replayed")
            let wait = between(1, 10)
            let task = Task<Bool, Never> {
                try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                guard let again = try? await self.forward(.POST, "/federation/v1/batches", body: body, headers: request.headers), again.status == 200,
                    let first = try? BatchReply(canonical: answer.body), let second = try? BatchReply(canonical: again.body),
                    first.outcomes.map(\.entry) == second.outcomes.map(\.entry)
                else { return false }
                self.count("replay answered with its first outcome")
                return true
            }
            state.withLock { $0.replays.append(task) }
        }
        if roll() < rate {
            count("reply dropped after JPN recorded it")
            throw HTTPError(.serviceUnavailable, message: "reply dropped")
        }
        return respond(answer)
    }

    func application(logger: Logger) throws -> some ApplicationProtocol {
        let router = Router(context: PeerRequestContext.self)
        router.post("federation/v1/batches") { request, context in
            let body = try await request.body.collect(upTo: 64 << 20)
            return try await self.batch(request, Array(buffer: body))
        }
        router.post("federation/v1/statements") { request, _ in
            try await self.blackHole()
            let body = try await request.body.collect(upTo: 8 << 20)
            return self.respond(try await self.forward(.POST, "/federation/v1/statements", body: Array(buffer: body), headers: request.headers))
        }
        router.get("federation/v1/tree-head") { request, _ in
            try await self.blackHole()
            return self.respond(try await self.forward(.GET, "/federation/v1/tree-head", body: nil, headers: request.headers))
        }
        router.get("federation/v1/consistency") { request, _ in
            try await self.blackHole()
            return self.respond(try await self.forward(.GET, "/federation/v1/consistency?\(request.uri.query ?? "")", body: nil, headers: request.headers))
        }
        let verifier = self.verifier
        let configuration = TLSChannelConfiguration(tlsConfiguration: serverTLS.serverConfiguration()) { presented in
            let certificates = presented.compactMap { try? Certificate(derEncoded: try $0.toDERBytes()) }
            if case .peer = await verifier.verify(certificates) { return .certificateVerified }
            return .failed
        }
        return Application(
            router: router, server: try .tls(.http1(), configuration: configuration),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "liaison-chaos"), logger: logger)
    }
}
