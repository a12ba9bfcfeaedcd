import ArgumentParser
import AsyncHTTPClient
import Foundation
import LiaisonApp
import LiaisonHTTP
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonStorePostgres
import LiaisonTesting
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Fault 6a: the receiver's data directory on a small tmpfs until it is
/// full. It must refuse new work with a clear error, acknowledge nothing it
/// did not store, stay up, and go on by itself when space returns.
struct DiskFull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disk-full", abstract: "The receiver's disk fills mid-transfer, then space returns: clear errors, nothing lost, recovery by itself.")

    @Option(help: "Items to transfer (1 KiB each): more than the small disk holds.") var items = 20_000
    @Option(help: "The receiver's tmpfs size, in MiB.") var sizeMb = 40
    @OptionGroup var common: CommonOptions

    func run() async throws {
        guard geteuid() == 0 else { throw FaultError("disk-full mounts a tmpfs: run it as root (CI does)") }
        let root = try common.workDirectory("disk-full")
        let mountpoint = root + "/jpn"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        try Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeMb)m,mode=0700", "tmpfs", mountpoint])
        defer { try? Shell.run("/bin/umount", ["-l", mountpoint]) }
        print("disk-full: \(items) items of 1 KiB KOR → JPN; JPN's directory on a \(sizeMb) MiB tmpfs; in \(root)")
        let nodes = try ServedNodes(root: root, liaison: try common.liaisonBinary(), examples: try common.examplesDirectory(), parties: [.kor, .jpn])
        defer { nodes.stopAll() }
        try Preload.run(directory: nodes.directory(.kor), items: items)
        try nodes.start(.jpn)
        try nodes.start(.kor)
        let jpnPID = nodes.pid(.jpn)
        func delivered() -> Int { nodes.peerFigure(.kor, peer: .jpn, "delivered") ?? 0 }
        func lastError() -> String { nodes.lastError(.kor, peer: .jpn) }
        // Until the disk is full: delivery stalls, and the sender hears why.
        var stalledAt = -1, stalledSince = Date(), full = false
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            try await Task.sleep(nanoseconds: 500_000_000)
            let d = delivered()
            if d >= items { break }
            if d != stalledAt { (stalledAt, stalledSince) = (d, Date()) }
            if Date().timeIntervalSince(stalledSince) > 5, lastError().contains("full") || lastError().contains("space") {
                full = true
                break
            }
        }
        guard full else { throw FaultError("the \(sizeMb) MiB disk never filled (\(delivered())/\(items) delivered); give more --items") }
        let error = lastError()
        let up = nodes.isRunning(.jpn) && nodes.pid(.jpn) == jpnPID
        print("full at \(stalledAt)/\(items) delivered; JPN \(up ? "still running" : "NOT RUNNING"); KOR's last error: \(error)")
        let logged = nodes.log(.jpn).split(separator: "\n").last { $0.contains("full") }.map(String.init) ?? "(nothing logged)"
        print("JPN's log: \(logged.prefix(300))")
        // Space returns: JPN goes on by itself.
        try Shell.run("/bin/mount", ["-o", "remount,size=\(sizeMb * 16)m", mountpoint])
        let returned = Date()
        while delivered() < items, Date().timeIntervalSince(returned) < 300 { try await Task.sleep(nanoseconds: 100_000_000) }
        let recovered = delivered() >= items
        let recovery = Date().timeIntervalSince(returned)
        let sameProcess = nodes.pid(.jpn) == jpnPID && nodes.isRunning(.jpn)
        guard nodes.stop(.kor), nodes.stop(.jpn) else { throw FaultError("a node did not stop cleanly on SIGTERM") }
        let count = try await Count.transfer(nodes, from: .kor, to: .jpn, expected: items)
        var intact = 0
        for p in [Party.kor, .jpn] {
            let (integrity, ledger) = try await nodes.check(p)
            if integrity == "ok", ledger.isIntact { intact += 1 } else { print("\(p): integrity \(integrity), ledger \(ledger)") }
        }
        print(count.description)
        let clear = error.contains("full") || error.contains("space")
        print(
            "result: disk full at \(stalledAt)/\(items); error clear: \(clear ? "yes" : "NO"); JPN stayed up: \(up && sameProcess ? "yes" : "NO"); recovered by itself: \(recovered ? String(format: "yes, %.1f s after space returned", recovery) : "NO"); lost \(count.lost), applied twice \(count.duplicated); stores intact \(intact)/2"
        )
        guard clear, up, sameProcess, recovered, count.lost == 0, count.duplicated == 0, count.complete, intact == 2 else { throw ExitCode(1) }
        nodes.stopAll()
        try? Shell.run("/bin/umount", [mountpoint])
        if common.dir == nil { try? FileManager.default.removeItem(atPath: root) }
    }
}

enum Shell {
    static func run(_ tool: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        let err = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FaultError("\(tool) \(arguments.joined(separator: " ")): \(String(decoding: err, as: UTF8.self))")
        }
    }
}

/// Fault 6b: `clients` slow clients hold connections open on the peer API
/// and the operator API (a TLS record begun and never finished, a byte
/// every few seconds), while legitimate requests, each on a new
/// connection, are timed; then a 1 GiB body is sent to each surface. The
/// legitimate requests must keep p99 under 1 s, the bodies be refused
/// early, and the node's memory stay bounded.
struct SlowClients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slow-clients", abstract: "1,000 slow clients and a 1 GiB body against the peer and operator APIs: p99, early refusal, memory.")

    @Option(help: "Slow clients, half on each surface.") var clients = 1000
    @Option(help: "The large body, in MiB.") var bodyMb = 1024
    @Option(help: "Timed legitimate requests per surface.") var requests = 200
    @Option(help: "Seconds to keep the slow clients afterwards, to count those the node closes (0: none).") var hold = 0.0
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let root = try common.workDirectory("slow-clients")
        let nodes = try ServedNodes(
            root: root, liaison: try common.liaisonBinary(), examples: try common.examplesDirectory(), parties: [.kor, .jpn], console: true)
        defer { nodes.stopAll() }
        try nodes.start(.jpn)
        let peerPort = nodes.ports[.jpn]!, consolePort = nodes.consolePorts[.jpn]!
        while !ServedNodes.listening(consolePort) { try await Task.sleep(nanoseconds: 20_000_000) }
        // KOR's credentials: a legitimate peer of JPN.
        let kor = NodeDirectory(path: nodes.directory(.kor)), jpn = try NodeDirectory(path: nodes.directory(.jpn)).load()
        let credentials = try kor.tlsCredentials()
        let tls = try PeerTLS(
            certificatePEM: credentials.certificate, keyPEM: credentials.key, identities: [jpn.identity],
            agreements: Array(try ExampleSet(directory: root + "/agreements").agreements.values))
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: try tls.clientConfiguration(for: .jpn), timeout: .init(connect: .seconds(10), read: .seconds(30)))
        configuration.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let peerURL = "https://127.0.0.1:\(peerPort)/federation/v1/tree-head", consoleURL = "https://127.0.0.1:\(consolePort)/openapi.json"

        /// Times `n` requests, each on a new connection; milliseconds, and failures.
        func timed(_ url: String, _ n: Int) async -> (ms: [Double], failures: [String]) {
            var ms: [Double] = [], failures: [String] = []
            for _ in 0..<n {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Connection", value: "close")
                let start = ContinuousClock.now
                do {
                    let response = try await client.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 16 << 20)
                    if response.status.code != 200 { failures.append("HTTP \(response.status.code)") }
                } catch { failures.append("\(error)") }
                let d = ContinuousClock.now - start
                ms.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
            }
            return (ms, failures)
        }
        func p(_ values: [Double], _ q: Double) -> Double {
            let s = values.sorted()
            return s.isEmpty ? .nan : s[min(s.count - 1, Int(Double(s.count - 1) * q))]
        }
        let baselinePeer = await timed(peerURL, 50), baselineConsole = await timed(consoleURL, 50)
        guard let before = nodes.memory(.jpn), nodes.bytesRead(.jpn) != nil else { throw FaultError("cannot read JPN's /proc/PID/status and io") }
        print(
            String(
                format: "slow-clients: before: peer API p50 %.1f ms, p99 %.1f ms; operator API p50 %.1f ms, p99 %.1f ms; JPN %.0f MiB resident",
                p(baselinePeer.ms, 0.5), p(baselinePeer.ms, 0.99), p(baselineConsole.ms, 0.5), p(baselineConsole.ms, 0.99), before.rss))

        // The slow clients: a TLS record header, then a byte every 5 s.
        let slow = SlowSockets()
        let opened = slow.open(clients / 2, port: peerPort) + slow.open(clients - clients / 2, port: consolePort)
        let trickle = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 5_000_000_000)
                slow.trickle()
            }
        }
        defer { trickle.cancel() }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let peer = await timed(peerURL, requests), console = await timed(consoleURL, requests)
        let during = nodes.memory(.jpn)
        print(
            String(
                format: "with %d slow clients connected: peer API p50 %.1f ms, p99 %.1f ms (%d failed); operator API p50 %.1f ms, p99 %.1f ms (%d failed)",
                opened, p(peer.ms, 0.5), p(peer.ms, 0.99), peer.failures.count, p(console.ms, 0.5), p(console.ms, 0.99), console.failures.count))
        for f in (peer.failures + console.failures).prefix(5) { print("  failure: \(f)") }

        // The large bodies.
        func large(_ url: String, _ contentType: String) async -> (answer: String, sentMiB: Double, seconds: Double, readMiB: Double) {
            let readBefore = nodes.bytesRead(.jpn)
            let r = await upload(url, contentType)
            // Give the node a moment: anything it still reads of the body counts.
            try? await Task.sleep(nanoseconds: 500_000_000)
            guard let readBefore, let readAfter = nodes.bytesRead(.jpn) else { return (r.answer, r.sentMiB, r.seconds, .infinity) }
            return (r.answer, r.sentMiB, r.seconds, Double(readAfter - readBefore) / 1_048_576)
        }
        func upload(_ url: String, _ contentType: String) async -> (answer: String, sentMiB: Double, seconds: Double) {
            let total = Int64(bodyMb) << 20
            let counter = ByteCounter()
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: contentType)
            // Made as the client asks for it, so the count is what it could send.
            let body = Chunks(total: total, counter: counter)
            request.body = .stream(body, length: .known(total))
            let start = ContinuousClock.now
            var answer: String
            do {
                let response = try await client.execute(request, timeout: .seconds(120))
                answer = "HTTP \(response.status.code)"
                _ = try? await response.body.collect(upTo: 1 << 20)
            } catch { answer = "connection closed (\(String(describing: error).prefix(80)))" }
            let d = ContinuousClock.now - start
            return (answer, Double(counter.get()) / 1_048_576, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        let bigPeer = await large("https://127.0.0.1:\(peerPort)/federation/v1/batches", PeerAPI.der)
        let bigConsole = await large("https://127.0.0.1:\(consolePort)/api/v1/items", "application/json")
        let after = nodes.memory(.jpn)
        print(
            String(
                format: "%d MiB body to the peer API (as KOR): %@ in %.2f s; the node read %.1f MiB (the client had queued %.0f MiB)", bodyMb, bigPeer.answer,
                bigPeer.seconds, bigPeer.readMiB, bigPeer.sentMiB))
        print(
            String(
                format: "%d MiB body to the operator API (no session): %@ in %.2f s; the node read %.1f MiB (the client had queued %.0f MiB)", bodyMb,
                bigConsole.answer, bigConsole.seconds, bigConsole.readMiB, bigConsole.sentMiB))
        let still = slow.stillOpen()
        var reclaimed = ""
        var stillAfterHold = 0
        if hold > 0 {
            try await Task.sleep(nanoseconds: UInt64(hold * 1e9))
            stillAfterHold = slow.stillOpen()
            reclaimed = String(format: "; after %.0f s more, %d still open (the node closes a connection whose handshake has not finished in 10 s)", hold, stillAfterHold)
        }
        trickle.cancel()
        slow.closeAll()
        guard let after else { throw FaultError("cannot read JPN's memory") }
        let peak = after.peak, growth = after.peak - before.rss
        print(
            String(
                format: "JPN memory: %.0f MiB before, %.0f MiB with the slow clients, peak %.0f MiB; %d of %d slow connections still open after the bodies%@",
                before.rss, during?.rss ?? -1, peak, still, opened, reclaimed))
        try? await client.shutdown()
        let p99 = max(p(peer.ms, 0.99), p(console.ms, 0.99))
        // Refused early: answered 413 by its declared length, the node having read less
        // than the smallest limit of its routes (what was already in flight on the socket).
        func refusedEarly(_ r: (answer: String, sentMiB: Double, seconds: Double, readMiB: Double)) -> Bool {
            r.answer == "HTTP 413" && r.readMiB < 64
        }
        let early = refusedEarly(bigPeer) && refusedEarly(bigConsole)
        let failures = peer.failures.count + console.failures.count
        print(
            String(
                format: "result: %d slow clients: legitimate p99 %.0f ms (%@ 1 s), %d failed; bodies of %d MiB refused early: %@ (the node read %.0f and %.0f MiB of them); peak memory %.0f MiB (+%.0f MiB)",
                opened, p99, p99 < 1000 ? "under" : "NOT under", failures, bodyMb, early ? "yes" : "NO", bigPeer.readMiB, bigConsole.readMiB, peak, growth))
        guard p99 < 1000, failures == 0, early, growth < 512, opened == clients, stillAfterHold == 0 else { throw ExitCode(1) }
        nodes.stopAll()
        if common.dir == nil { try? FileManager.default.removeItem(atPath: root) }
    }
}

/// A body of `total` bytes, made 1 MiB at a time as the client pulls it.
struct Chunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let total: Int64
    let counter: ByteCounter
    struct AsyncIterator: AsyncIteratorProtocol {
        let total: Int64
        let counter: ByteCounter
        var sent: Int64 = 0
        let chunk = ByteBuffer(repeating: 0x30, count: 1 << 20)
        mutating func next() async -> ByteBuffer? {
            guard sent < total else { return nil }
            let n = Int(Swift.min(Int64(chunk.readableBytes), total - sent))
            sent += Int64(n)
            counter.set(sent)
            return chunk.getSlice(at: 0, length: n)
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(total: total, counter: counter) }
}

final class ByteCounter: Sendable {
    private let value = Mutex<Int64>(0)
    func set(_ v: Int64) { value.withLock { $0 = v } }
    func get() -> Int64 { value.withLock { $0 } }
}

/// Raw sockets that connect and then send almost nothing.
final class SlowSockets: Sendable {
    private let fds = Mutex<[Int32]>([])

    /// Opens `n` connections, each sending the first bytes of a TLS record; how many connected.
    func open(_ n: Int, port: Int) -> Int {
        var opened = 0
        for _ in 0..<n {
            guard let fd = Loopback.stalledConnection(port: port) else { continue }
            fds.withLock { $0.append(fd) }
            opened += 1
        }
        return opened
    }

    /// One more byte on every connection still open.
    func trickle() {
        fds.withLock { list in
            for fd in list { _ = [UInt8(0x01)].withUnsafeBytes { send(fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) } }
        }
    }

    /// How many the server has not closed.
    func stillOpen() -> Int {
        fds.withLock { list in
            list.filter { fd in
                var byte: UInt8 = 0
                let r = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
                return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            }.count
        }
    }

    func closeAll() {
        fds.withLock { list in
            for fd in list { close(fd) }
            list = []
        }
    }
}

/// Fault 6c: the receiver's clock set off by libfaketime (its monotonic
/// clock left alone), first within the replay window (items flow), then
/// beyond it (every batch refused as outside the window, with that
/// reason, and nothing lost: the items wait), then put right (they drain).
struct ClockSkew: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clock-skew", abstract: "The receiver's clock off within and beyond the replay window (libfaketime): flow, clear refusal, nothing lost.")

    @Option(help: "Items per phase (1 KiB each).") var items = 2000
    @Option(help: "Seconds the clock is off within the tolerance.") var within = 120
    @Option(help: "Seconds the clock is off beyond it.") var beyond = 900
    @Option(help: "The faketime program (Debian's faketime package).") var faketime = "/usr/bin/faketime"
    @OptionGroup var common: CommonOptions

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: faketime) else { throw FaultError("no \(faketime): apt-get install faketime (.ci/run does)") }
        let root = try common.workDirectory("clock-skew")
        let nodes = try ServedNodes(root: root, liaison: try common.liaisonBinary(), examples: try common.examplesDirectory(), parties: [.kor, .jpn])
        defer { nodes.stopAll() }
        let window = 300
        // faketime(1) runs the node with libfaketime preloaded; its monotonic clock is left alone.
        func skewed(_ seconds: Int) -> [String] { [faketime, "-f", seconds >= 0 ? "+\(seconds)s" : "\(seconds)s"] }
        let plain = ["FAKETIME_DONT_FAKE_MONOTONIC": "1"]
        func delivered() -> Int { nodes.peerFigure(.kor, peer: .jpn, "delivered") ?? 0 }
        func refused() -> Int { nodes.peerFigure(.kor, peer: .jpn, "refused") ?? 0 }
        func lastError() -> String { nodes.lastError(.kor, peer: .jpn) }
        /// How far JPN's clock is from this one, read from the status file it writes.
        func measuredSkew() async throws -> Double? {
            for _ in 0..<50 {
                if let at = nodes.status(.jpn)?["at"] as? String, let date = RFC3339.parse(at) { return date.timeIntervalSinceNow }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            return nil
        }
        func wait(until done: () -> Bool, seconds: Double) async throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !done() {
                guard Date() < deadline else { return false }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            return true
        }
        print("clock-skew: JPN's clock off by \(within) s, then \(beyond) s (replay window ±\(window) s); \(items) items per phase")
        // Within the tolerance.
        try Preload.run(directory: nodes.directory(.kor), items: items)
        try? FileManager.default.removeItem(atPath: nodes.directory(.jpn) + "/status.json")
        try nodes.start(.jpn, wrapper: skewed(within), environment: plain)
        let skew1 = try await measuredSkew() ?? .nan
        try nodes.start(.kor)
        let flowed = try await wait(until: { delivered() >= items }, seconds: 120)
        print(String(format: "JPN %.0f s off: %d/%d delivered%@", skew1, delivered(), items, flowed ? "" : " (NOT ALL)"))
        guard nodes.stop(.kor), nodes.stop(.jpn) else { throw FaultError("a node did not stop cleanly") }
        // Beyond it: refused for now, with the reason; nothing refused for good.
        try Preload.run(directory: nodes.directory(.kor), items: items, first: items)
        try? FileManager.default.removeItem(atPath: nodes.directory(.jpn) + "/status.json")
        try nodes.start(.jpn, wrapper: skewed(beyond), environment: plain)
        let skew2 = try await measuredSkew() ?? .nan
        try nodes.start(.kor)
        let explained = try await wait(until: { lastError().contains("replay window") }, seconds: 60)
        try await Task.sleep(nanoseconds: 3_000_000_000)
        let heldBack = delivered() == items && refused() == 0
        print(String(format: "JPN %.0f s off: %d/%d delivered, %d refused for good; KOR's last error: %@", skew2, delivered() - items, items, refused(), lastError()))
        // Put right: they drain.
        guard nodes.stop(.jpn) else { throw FaultError("JPN did not stop cleanly") }
        try nodes.start(.jpn)
        let restored = Date()
        let drained = try await wait(until: { delivered() >= 2 * items }, seconds: 120)
        let drain = Date().timeIntervalSince(restored)
        guard nodes.stop(.kor), nodes.stop(.jpn) else { throw FaultError("a node did not stop cleanly") }
        let count = try await Count.transfer(nodes, from: .kor, to: .jpn, expected: 2 * items)
        print(count.description)
        print(
            String(
                format: "result: %.0f s off (within ±%d s): all delivered %@; %.0f s off (beyond): held back with the reason %@, none refused for good %@; clock put right: drained %@ in %.1f s; lost %d, applied twice %d",
                skew1, window, flowed ? "yes" : "NO", skew2, explained ? "yes" : "NO", heldBack ? "yes" : "NO", drained ? "yes" : "NO", drain, count.lost,
                count.duplicated))
        guard abs(skew1 - Double(within)) < 30, abs(skew2 - Double(beyond)) < 30, flowed, explained, heldBack, drained, count.lost == 0, count.duplicated == 0, count.complete,
            count.refused == 0
        else { throw ExitCode(1) }
        if common.dir == nil { try? FileManager.default.removeItem(atPath: root) }
    }
}
