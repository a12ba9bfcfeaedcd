import ArgumentParser
import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Logging

/// Seals, stores and releases the test items at a stopped node, in a child
/// process (so that the node's store is closed when it ends).
enum Preload {
    static func run(directory: String, items: Int, first: Int = 0, to peer: Party = .jpn, agreement: String = "gsomia-kor-jpn-2016") throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if !FileManager.default.isExecutableFile(atPath: process.executableURL!.path), let path = Bundle.main.executablePath {
            process.executableURL = URL(fileURLWithPath: path)
        }
        process.arguments = ["preload", "--dir", directory, "--items", "\(items)", "--first", "\(first)", "--to", peer.code, "--agreement", agreement]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FaultError("preloading \(items) items at \(directory) failed (status \(process.terminationStatus))") }
    }

    /// Item `n`'s 1 KiB payload: its number, then bytes derived from it.
    static func payload(_ n: Int) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: 1024)
        withUnsafeBytes(of: UInt64(n).bigEndian) { payload.replaceSubrange(0..<8, with: $0) }
        var x = SplitMix(seed: UInt64(n) &+ 0x9E37)
        for i in 8..<1024 { payload[i] = UInt8(truncatingIfNeeded: x.next()) }
        return payload
    }

    static func number(_ payload: [UInt8]) -> Int? {
        guard payload.count >= 8 else { return nil }
        return Int(payload[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}

struct PreloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preload", abstract: "Seal, store and release test items at a stopped node.", shouldDisplay: false)
    @Option var dir: String
    @Option var items: Int
    @Option var first = 0
    @Option var to: String
    @Option var agreement: String

    func run() async throws {
        guard let peer = Party(to) else { throw ValidationError("no party \(to)") }
        var logger = Logger(label: "liaison-faults")
        logger.logLevel = .error
        let settings = try await ServeConfiguration.load(directory: dir, file: nil, flags: [:])
        let runtime = try await NodeRuntime.open(settings, logger: logger)
        let federation = runtime.federation
        let label = try SecurityLabel(
            policy: "national:\(runtime.party.code)", originator: runtime.party, level: "II", releasableTo: [peer],
            categories: [Category(tag: "PROJECT", kind: .restrictive, values: ["EAST-SEA"])], purpose: "dprk-nuclear-missile", created: Date())
        var n = first
        while n < first + items {
            let batch = (n..<min(first + items, n + 1000)).map { (label: label, mediaType: "application/octet-stream", payload: Preload.payload($0)) }
            let ids = try await federation.originate(batch).map(\.manifest.itemID)
            let released = try await federation.release(ids, to: peer, agreement: agreement)
            guard released.refused.isEmpty else { throw FaultError("the test items were refused: \(released.refused[0].refusal)") }
            n += batch.count
        }
        _ = try await federation.checkpoint()
    }
}
