import Foundation
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

    static func run(_ arguments: [String]) throws -> Run {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
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
        #expect(r.status == 0)
        #expect(r.stdout.contains("Korea suspends its notice"))
        #expect(r.stderr.isEmpty)
        let missing = try CLI.run(["demo", "--examples", "/nonexistent"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no such file"))
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
