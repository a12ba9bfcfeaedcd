import Foundation
import LiaisonApp
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Testing

/// Runs the built `liaison` executable, as a user would.
struct CLI {
    struct Run {
        var status: Int32
        var signalled: Bool
        var stdout: String
        var stderr: String
    }

    /// The `liaison` binary beside the test bundle (`swift build --build-tests` builds both).
    static var executable: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("liaison")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("liaison")
    }

    static func run(_ arguments: [String], input: String? = nil) throws -> Run {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let stdin = Pipe()
        p.standardInput = stdin
        try p.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(
            status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
            stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("The liaison executable")
struct CLITests {
    @Test func theBinaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: CLI.executable.path), "build with `swift build --build-tests` first")
    }

    @Test func helpDescribesTheCommands() throws {
        let r = try CLI.run(["--help"])
        #expect(r.status == 0)
        for word in ["demo", "agreement", "label"] { #expect(r.stdout.contains(word)) }
        let check = try CLI.run(["agreement", "check", "--help"])
        #expect(check.stdout.contains("print every error"))
    }

    @Test func theDemoRuns() throws {
        let r = try CLI.run(["demo", "--examples", Fixtures.examplesDirectory])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("expectations met"))
        #expect(!r.stdout.contains("UNEXPECTED"))
        #expect(r.stderr.isEmpty)
        let history = try CLI.run(["demo", "--history", "--examples", Fixtures.examplesDirectory])
        #expect(history.status == 0)
        #expect(history.stdout.contains("Korea suspends its notice"))
        let missing = try CLI.run(["demo", "--examples", "/nonexistent"])
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("no such file") || missing.stderr.contains("no such file") || missing.stdout.contains("cannot"))
    }

    /// Two `liaison serve` processes configured by file, environment and
    /// flags: they find each other over mutual TLS (gossip records each
    /// other's tree head), `peer status` reads the running node, and
    /// SIGTERM stops each gracefully.
    @Test func twoServedNodesGossipAndStopOnSIGTERM() async throws {
        let dir = TempDir()
        let root = dir.path
        for party in ["KOR", "JPN"] {
            #expect(try CLI.run(["init", "--party", party, "--dir", "\(root)/\(party.lowercased())"]).status == 0)
        }
        var identities: [Party: NodeIdentity] = [:]
        for p in [Party.kor, .jpn] {
            identities[p] = try NodeIdentity(canonical: Array(try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(p.code.lowercased())/identity.der"))))
        }
        try LocalFederation.pin(examples: Fixtures.examplesDirectory, into: "\(root)/agreements", identities: identities)
        let ports = [Party.kor: try Loopback.freePort(), .jpn: try Loopback.freePort()]
        let consoles = [Party.kor: try Loopback.freePort(), .jpn: try Loopback.freePort()]
        // KOR by its file; JPN by environment and flags.
        try """
            agreements: ../agreements
            listen:
              port: \(ports[.kor]!)
            console:
              port: \(consoles[.kor]!)
            gossip:
              interval: 0.2
            tls:
              handshake-deadline: 1
            peers:
              JPN:
                endpoint: https://127.0.0.1:\(ports[.jpn]!)
                identity: ../jpn/identity.der
            """.write(toFile: "\(root)/kor/liaison.yaml", atomically: true, encoding: .utf8)
        func start(_ p: Party, _ arguments: [String], environment: [String: String] = [:]) throws -> Process {
            let process = Process()
            process.executableURL = CLI.executable
            process.arguments = ["serve", "--dir", "\(root)/\(p.code.lowercased())", "--log-level", "warning"] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, b in b }
            process.standardOutput = FileHandle.nullDevice
            // Its log, shown if the test fails.
            _ = FileManager.default.createFile(atPath: "\(root)/\(p.code.lowercased()).log", contents: nil)
            process.standardError = FileHandle(forWritingAtPath: "\(root)/\(p.code.lowercased()).log")
            try process.run()
            return process
        }
        // Users are managed on the stopped node's store; every change is in its ledger.
        let added = try CLI.run(
            [
                "user", "add", "kim", "--dir", "\(root)/kor", "--display-name", "Kim", "--role", "analyst", "--clearance", "II", "--clearance-expires",
                "2030-01-01", "--category", "PROJECT:EAST-SEA", "--password-stdin",
            ], input: "a long enough password\n")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("kim (Kim) KOR: analyst;"))
        let badLevel = try CLI.run(["user", "add", "lee", "--dir", "\(root)/kor", "--clearance", "GOKUHI", "--clearance-expires", "2030-01-01"])
        #expect(badLevel.status == 1)
        #expect(badLevel.stderr.contains("GOKUHI is not a level of KOR's scheme"))
        let shortPassword = try CLI.run(["user", "password", "kim", "--dir", "\(root)/kor", "--password-stdin"], input: "short\n")
        #expect(shortPassword.status == 1 && shortPassword.stderr.contains("at least 12 characters"))
        #expect(try CLI.run(["user", "grant", "kim", "--dir", "\(root)/kor", "--role", "releasing-officer"]).stdout.contains("analyst,releasing-officer"))
        #expect(try CLI.run(["user", "disable", "kim", "--dir", "\(root)/kor"]).status == 0)
        #expect(try CLI.run(["user", "list", "--dir", "\(root)/kor"]).stdout.contains("DISABLED"))
        let kor = try start(.kor, [])
        let jpn = try start(
            .jpn, ["--listen", "127.0.0.1:\(ports[.jpn]!)", "--console", "127.0.0.1:\(consoles[.jpn]!)", "--agreements", "\(root)/agreements"],
            environment: [
                "LIAISON_GOSSIP_INTERVAL": "0.2", "LIAISON_TLS_HANDSHAKE_DEADLINE": "1", "LIAISON_PEERS_KOR_ENDPOINT": "https://127.0.0.1:\(ports[.kor]!)",
                "LIAISON_PEERS_KOR_IDENTITY": "\(root)/kor/identity.der",
            ])
        defer {
            if kor.isRunning { kor.terminate() }
            if jpn.isRunning { jpn.terminate() }
        }
        // Each records the other's tree head through gossip.
        var seen = false
        for _ in 0..<100 {
            let status = try CLI.run(["peer", "status", "--dir", "\(root)/kor", "--json"])
            if status.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any],
                let peers = object["peers"] as? [[String: Any]], peers.first?["tree_size"] != nil
            {
                seen = true
                break
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        func logs() -> String {
            ["kor", "jpn"].map { "\($0): " + ((try? String(contentsOfFile: "\(root)/\($0).log", encoding: .utf8)) ?? "") }.joined(separator: "\n")
        }
        #expect(seen, "KOR never recorded JPN's tree head\n\(logs())")
        // While the node runs, its users are managed through the operator API.
        let running = try CLI.run(["user", "list", "--dir", "\(root)/kor"])
        #expect(running.status == 1 && running.stderr.contains("the node is running"), "\(running.stderr)")
        let text = try CLI.run(["peer", "status", "--dir", "\(root)/jpn"])
        #expect(text.stdout.contains("JPN node"), "\(text.stdout)\(text.stderr)")
        #expect(text.stdout.contains("KOR https://127.0.0.1:\(ports[.kor]!)"))
        // The handshake deadline, from KOR's file and JPN's environment (1 s; the default is 10).
        for port in [ports[.kor]!, consoles[.kor]!, ports[.jpn]!] {
            let stalled = Loopback.stalledHandshake(port: port, patience: 8)
            #expect(stalled.closed && stalled.after < .seconds(6), "port \(port): \(stalled)")
        }
        for p in [kor, jpn] {
            p.terminate()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0 && p.terminationReason == .exit, "a SIGTERM stops the node gracefully\n\(logs())")
        }
        // Stopped: the ledgers verify, and the store answers peer status directly.
        #expect(try CLI.run(["ledger", "verify", "--dir", "\(root)/kor"]).status == 0)
        let stopped = try CLI.run(["peer", "status", "--dir", "\(root)/kor"])
        #expect(stopped.stdout.contains("(not running)") || stopped.stdout.contains("KOR node"), "\(stopped.stdout)\(stopped.stderr)")
        // Bad configuration is refused with the reason.
        try "agreements: ../agreements\nlisten:\n  port: 99999\n".write(toFile: "\(root)/kor/liaison.yaml", atomically: true, encoding: .utf8)
        let bad = try CLI.run(["serve", "--dir", "\(root)/kor"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("listen.port"))
        try "agreements: ../agreements\ntls:\n  handshake-deadline: 0\n".write(toFile: "\(root)/kor/liaison.yaml", atomically: true, encoding: .utf8)
        let noDeadline = try CLI.run(["serve", "--dir", "\(root)/kor"])
        #expect(noDeadline.status == 1)
        #expect(noDeadline.stderr.contains("tls.handshake-deadline must be a number in 0.1...600.0, not 0"), "\(noDeadline.stderr)")
    }

    @Test func exitCodesSayWhatHappened() throws {
        let kj = "\(Fixtures.examplesDirectory)/agreements/gsomia-kor-jpn-2016.yaml"
        #expect(try CLI.run(["agreement", "check", kj]).status == 0)
        #expect(try CLI.run(["label", "mark", "--agreement", kj, "--to", "JPN", "--level", "II"]).status == 0)
        let refused = try CLI.run(["label", "mark", "--agreement", kj, "--to", "JPN", "--level", "I"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("Art 4"))
        let usage = try CLI.run(["agreement", "check"])
        #expect(usage.status != 0 && !usage.signalled)
        #expect(usage.stderr.contains("name at least one agreement file") || usage.stderr.contains("Missing expected argument"))
    }

    /// Truncated and garbage files: a precise error and a non-zero exit, never a crash.
    @Test func malformedFilesNeverCrashTheTool() throws {
        let dir = TempDir()
        let kjText = try String(contentsOfFile: "\(Fixtures.examplesDirectory)/agreements/gsomia-kor-jpn-2016.yaml", encoding: .utf8)
        let statements = try String(contentsOfFile: "\(Fixtures.examplesDirectory)/statements/gsomia-kor-jpn-2016.yaml", encoding: .utf8)
        var rng = SystemRandomNumberGenerator()
        var files: [(String, String)] = []  // (agreement, statements)
        for cut in [1, 10, 100, 300, kjText.utf8.count / 2, kjText.utf8.count - 3] {
            files.append((dir.write("a\(cut).yaml", Data(kjText.utf8.prefix(cut))), ""))
        }
        for i in 0..<4 {
            files.append((dir.write("g\(i).yaml", Data((0..<512).map { _ in UInt8.random(in: 0...255, using: &rng) })), ""))
        }
        let kj = "\(Fixtures.examplesDirectory)/agreements/gsomia-kor-jpn-2016.yaml"
        for cut in [5, 50, statements.utf8.count / 2] {
            files.append((kj, dir.write("s\(cut).yaml", Data(statements.utf8.prefix(cut)))))
        }
        for (agreement, st) in files {
            let r = try st.isEmpty
                ? CLI.run(["agreement", "check", agreement])
                : CLI.run(["agreement", "status", agreement, "--statements", st, "--at", "2019-01-01T00:00:00Z"])
            #expect(!r.signalled, "crashed on \(agreement) \(st)")
            #expect(r.status == 1, "\(agreement) \(st): exit \(r.status)")
            #expect(!r.stderr.isEmpty)
            #expect(r.stderr.contains(st.isEmpty ? agreement : st), "the error names the file: \(r.stderr)")
        }
    }
}
