import ArgumentParser
import Foundation
import LiaisonApp
import LiaisonBench
import Logging

/// The `liaison` command-line tool: thin commands calling LiaisonApp.
@main
struct Liaison: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liaison",
        abstract: "Exchange classified military information under machine-readable GSOMIAs.",
        discussion: """
            Agreements, schemes and lifecycle statements are YAML files (see docs/agreements.md and Examples/).
            Instants are RFC 3339 with an explicit offset, e.g. 2019-11-22T20:00:00+09:00.
            """,
        subcommands: [
            Demo.self, Init.self, Serve.self, PeerCommand.self, UserCommand.self, NodeCommand.self, AgreementCommand.self, LabelCommand.self, LedgerCommand.self,
            Bench.self,
        ]
    )
}

func emit(_ output: CommandOutput) throws {
    for line in output.stdout { print(line) }
    for line in output.stderr { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    if output.exitCode != 0 { throw ExitCode(output.exitCode) }
}

extension Liaison {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start KOR, JPN and USA nodes on loopback and play the Korea–Japan–US story between them over mutual TLS.",
            discussion: """
                Each node gets fresh keys and an embedded store; the agreements of Examples/ are pinned to those keys. Every step \
                prints ✔ or ✘ with the article behind it; the exit status is 1 if any expectation is not met. With --history, \
                replays the 2014–2019 decisions through the model instead.
                """)

        @Option(help: "The Examples folder (default: ./Examples).")
        var examples: String?

        @Option(help: "Where the nodes keep their data (default: a new temporary directory).")
        var dir: String?

        @Flag(help: "Leave the nodes running after the story and print their addresses.")
        var keepRunning = false

        @Flag(help: "Replay the 2014–2019 story through the model (no nodes).")
        var history = false

        func run() async throws {
            if history {
                let set: ExampleSet
                do {
                    set = try ExampleSet(directory: try ExampleSet.locate(examples))
                } catch {
                    return try emit(CommandOutput(failure: error.description))
                }
                await LiaisonApp.HistoryDemo(examples: set, dataDirectory: dir) { print($0) }.run()
                return
            }
            let status = await Commands.demo(examples: examples, directory: dir, keepRunning: keepRunning) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            if status != 0 { throw ExitCode(status) }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a node: the peer API over mutual TLS, the senders and the gossip with each peer.",
            discussion: """
                Settings come from the flags, then LIAISON_* environment variables, then DIR/liaison.yaml (or --config): \
                agreements, listen.host, listen.port, console.host, console.port, postgres.url, peers.<PARTY>.endpoint, peers.<PARTY>.identity, \
                gossip.interval, federation.batch-size, federation.pipeline, federation.replay-window. See docs/federation.md. \
                SIGTERM or SIGINT stops it gracefully.
                """)

        @Option(help: "The node's data directory (from liaison init).")
        var dir: String

        @Option(help: "The configuration file (default: DIR/liaison.yaml).")
        var config: String?

        @Option(help: "The agreements directory (agreements/, statements/, schemes/).")
        var agreements: String?

        @Option(help: "HOST:PORT for the peer API.")
        var listen: String?

        @Option(help: "HOST:PORT for the operator API over HTTPS, or off (default 127.0.0.1:8444).")
        var console: String?

        @Option(help: "A PostgreSQL URL instead of the embedded SQLite store.")
        var postgres: String?

        @Option(help: "trace, debug, info, notice, warning, error or critical.")
        var logLevel = "info"

        func run() async throws {
            var flags: [String: String] = [:]
            if let agreements { flags["agreements"] = agreements }
            if let postgres { flags["postgres.url"] = postgres }
            if let listen {
                guard let colon = listen.lastIndex(of: ":"), Int(listen[listen.index(after: colon)...]) != nil else {
                    return try emit(CommandOutput(failure: "--listen takes HOST:PORT, not \(listen)"))
                }
                flags["listen.host"] = String(listen[..<colon])
                flags["listen.port"] = String(listen[listen.index(after: colon)...])
            }
            if let console {
                if console == "off" {
                    flags["console.port"] = "off"
                } else {
                    guard let colon = console.lastIndex(of: ":"), Int(console[console.index(after: colon)...]) != nil else {
                        return try emit(CommandOutput(failure: "--console takes HOST:PORT or off, not \(console)"))
                    }
                    flags["console.host"] = String(console[..<colon])
                    flags["console.port"] = String(console[console.index(after: colon)...])
                }
            }
            guard let level = Logger.Level(rawValue: logLevel) else {
                return try emit(CommandOutput(failure: "--log-level \(logLevel): one of trace, debug, info, notice, warning, error, critical"))
            }
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            try emit(await Commands.serve(directory: dir, config: config, flags: flags, logLevel: level))
        }
    }

    struct PeerCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "peer", abstract: "The sync state of a node's peers, and their alarms.", subcommands: [Status.self, Acknowledge.self])

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Queued, in flight, delivered and refused items per peer, lag, last success and error, alarms, unacknowledged statements.")

            @Option(help: "The node's data directory.")
            var dir: String

            @Flag(help: "Print JSON.")
            var json = false

            func run() async throws { try emit(await Commands.peerStatus(directory: dir, json: json)) }
        }

        struct Acknowledge: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Acknowledge a peer's alarm (fork, rollback, unprovable head) so that exchange resumes; recorded in the ledger.",
                discussion: "Run it with the node stopped.")

            @Argument(help: "The peer's party code.")
            var party: String

            @Option(help: "The node's data directory.")
            var dir: String

            @Option(help: "The security officer acknowledging.")
            var officer: String

            func run() async throws { try emit(await Commands.acknowledgeAlarm(directory: dir, party: party, officer: officer)) }
        }
    }

    struct UserCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "user", abstract: "The people of a node: clearance, need-to-know categories, roles, password (Art 7).",
            discussion: """
                Run with the node stopped; while it runs, administrators use the operator API (/api/v1/users). \
                Every change is recorded in the node's ledger. Roles: analyst, releasing-officer, security-officer, auditor, administrator. \
                Clearances are levels of the node's own scheme (as II for Korea); categories are TAG:VALUE.
                """,
            subcommands: [Add.self, List.self, Grant.self, Disable.self, Enable.self, Password.self])

        struct Node: ParsableArguments {
            @Option(help: "The node's data directory.")
            var dir: String
            @Option(help: "The configuration file (default: DIR/liaison.yaml).")
            var config: String?
            @Option(help: "The agreements directory, if not in the configuration.")
            var agreements: String?
            var flags: [String: String] { agreements.map { ["agreements": $0] } ?? [:] }
        }

        /// Reads the password from standard input (one line), never from the command line.
        static func readPassword(_ enabled: Bool) -> String? {
            guard enabled, let line = readLine(strippingNewline: true) else { return nil }
            return line
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add a user.")
            @OptionGroup var node: Node
            @Argument(help: "The user name (a–z, 0–9, '.', '_', '-').")
            var name: String
            @Option(help: "The name shown in the console.")
            var displayName: String?
            @Option(help: "A role (repeat for several; default analyst).")
            var role: [String] = []
            @Option(help: "The clearance: a level of the node's scheme.")
            var clearance: String?
            @Option(help: "When the clearance expires (YYYY-MM-DD).")
            var clearanceExpires: String?
            @Option(help: "A need-to-know category value TAG:VALUE (repeat for several).")
            var category: [String] = []
            @Flag(help: "Read the password from standard input.")
            var passwordStdin = false

            func run() async throws {
                var change = Commands.UserChange()
                (change.displayName, change.addRoles, change.clearance, change.clearanceExpires, change.addCategories) = (
                    displayName, role, clearance, clearanceExpires, category
                )
                try emit(
                    await Commands.userAdd(
                        directory: node.dir, config: node.config, flags: node.flags, name: name, change: change,
                        password: UserCommand.readPassword(passwordStdin)))
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the node's users.")
            @OptionGroup var node: Node
            func run() async throws { try emit(await Commands.userList(directory: node.dir, config: node.config, flags: node.flags)) }
        }

        struct Grant: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change what a user holds: roles, clearance, categories.")
            @OptionGroup var node: Node
            @Argument var name: String
            @Option(help: "A role to add.") var role: [String] = []
            @Option(help: "A role to remove.") var removeRole: [String] = []
            @Option(help: "A new clearance level.") var clearance: String?
            @Option(help: "When it expires (YYYY-MM-DD).") var clearanceExpires: String?
            @Flag(help: "Withdraw the clearance.") var removeClearance = false
            @Option(help: "A category value TAG:VALUE to add.") var category: [String] = []
            @Option(help: "A category value to remove.") var removeCategory: [String] = []
            @Option(help: "A new display name.") var displayName: String?

            func run() async throws {
                var change = Commands.UserChange()
                (change.displayName, change.addRoles, change.removeRoles) = (displayName, role, removeRole)
                (change.clearance, change.clearanceExpires, change.removeClearance) = (clearance, clearanceExpires, removeClearance)
                (change.addCategories, change.removeCategories) = (category, removeCategory)
                try emit(await Commands.userGrant(directory: node.dir, config: node.config, flags: node.flags, name: name, change: change))
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Disable a user: its sessions and API tokens stop working.")
            @OptionGroup var node: Node
            @Argument var name: String
            func run() async throws {
                try emit(await Commands.userSetDisabled(directory: node.dir, config: node.config, flags: node.flags, name: name, disabled: true))
            }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Enable a disabled or locked-out user again.")
            @OptionGroup var node: Node
            @Argument var name: String
            func run() async throws {
                try emit(await Commands.userSetDisabled(directory: node.dir, config: node.config, flags: node.flags, name: name, disabled: false))
            }
        }

        struct Password: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set a user's password (read from standard input) and lift a lock-out.")
            @OptionGroup var node: Node
            @Argument var name: String
            @Flag(help: "Read the password from standard input (required).") var passwordStdin = false
            func run() async throws {
                guard let password = UserCommand.readPassword(passwordStdin) else {
                    return try emit(CommandOutput(failure: "give the password on standard input with --password-stdin"))
                }
                try emit(await Commands.userPassword(directory: node.dir, config: node.config, flags: node.flags, name: name, password: password))
            }
        }
    }

    struct AgreementCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "agreement", abstract: "Check agreements and compute their state.",
            subcommands: [Check.self, Status.self])

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate agreement files; print every error (file:line:column: field: reason).",
                discussion: "Exits 0 when every file is valid, 1 otherwise.")

            @Argument(help: "Agreement files (YAML).")
            var files: [String]

            @Option(help: "Also evaluate this statements file against the (single) agreement.")
            var statements: String?

            func validate() throws {
                if files.isEmpty { throw ValidationError("name at least one agreement file") }
                if statements != nil, files.count != 1 {
                    throw ValidationError("--statements checks against exactly one agreement file")
                }
            }

            func run() throws { try emit(Commands.check(files: files, statements: statements)) }
        }

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The state of an agreement at an instant: phase, term, deadlines and the act behind it.")

            @Argument(help: "The agreement file.")
            var file: String

            @Option(help: "The agreement's lifecycle statements (YAML).")
            var statements: String?

            @Option(help: "The instant, RFC 3339 with offset (e.g. 2019-11-22T20:00:00+09:00), or 'now'.")
            var at: String = "now"

            @Flag(help: "Print JSON instead of text.")
            var json = false

            func run() throws { try emit(Commands.status(file: file, statements: statements, at: at, json: json)) }
        }
    }

    struct LabelCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "label", abstract: "Security labels and their markings.",
            subcommands: [Mark.self, Export.self, Import.self])

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Write a label as STANAG 4774 XML.")

            @Option(help: "The originating party (e.g. KOR).")
            var originator: String
            @Option(help: "The level code in the originator's scheme (e.g. II).")
            var level: String
            @Option(help: "The policy (default national:ORIGINATOR).")
            var policy: String?
            @Option(name: .customLong("releasable-to"), help: "A party the item is releasable to (repeatable, or comma-separated).")
            var releasableTo: [String] = []
            @Option(help: "A category as TYPE:Tag=value[,value…], TYPE one of PERMISSIVE, RESTRICTIVE, INFORMATIVE (repeatable).")
            var category: [String] = []
            @Option(help: "The purpose the information is provided for.")
            var purpose: String?
            @Option(help: "Creation instant (RFC 3339 with offset; default now).")
            var created: String?
            @Option(help: "Review instant (RFC 3339 with offset).")
            var review: String?

            func run() throws {
                try emit(
                    Commands.exportLabel(
                        policy: policy, originator: originator, level: level, releasableTo: releasableTo, categories: category,
                        purpose: purpose, created: created, review: review, now: Date()))
            }
        }

        struct Import: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Read a STANAG 4774 XML label; with --agreement and --to, print its dual marking.")

            @Argument(help: "The label file (XML).")
            var file: String
            @Option(help: "An agreement file, to mark the label for a receiving party.")
            var agreement: String?
            @Option(help: "The receiving party.")
            var to: String?

            func run() throws { try emit(Commands.importLabel(file: file, agreement: agreement, to: to)) }
        }

        struct Mark: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The dual marking (Art 4) a receiving party applies, or why there is none.",
                discussion: "Exits 0 with the marking, 2 when the agreement refuses the level, 1 on bad input.")

            @Option(help: "The agreement file.")
            var agreement: String

            @Option(help: "The receiving party (e.g. JPN).")
            var to: String

            @Option(help: "The level code in the originator's scheme (e.g. II).")
            var level: String

            @Option(help: "The originating party, when the level code alone does not tell.")
            var from: String?

            func run() throws { try emit(Commands.mark(agreement: agreement, to: to, level: level, from: from)) }
        }
    }
}

extension Liaison {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure throughput (build with -c release).", subcommands: [Crypto.self, Store.self, Federation.self])

        static func warnIfDebug(_ bench: String) {
            #if DEBUG
                FileHandle.standardError.write(Data("note: this is a debug build; run `swift run -c release liaison bench \(bench)` for real figures\n".utf8))
            #endif
        }

        /// Prints a row as a JSON line, or as a table line: a rate, or for
        /// proofs the latency.
        static func printer(json: Bool, nameWidth: Int, rateWidth: Int) -> (CryptoBench.Row) -> Void {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return { row in
                let name = row.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                if json {
                    Swift.print(String(decoding: try! encoder.encode(row), as: UTF8.self))
                } else if row.unit == "µs" {
                    Swift.print("\(name) \(String(format: "%\(rateWidth).1f", row.median)) µs")
                } else if row.unit == "proofs/s" {
                    Swift.print("\(name) \(String(format: "%8.1f", 1e6 / row.median)) µs per proof")
                } else {
                    Swift.print("\(name) \(String(format: "%\(rateWidth).0f", row.median)) \(row.unit)")
                }
            }
        }

        struct Federation: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Two nodes over mutual TLS on loopback: sustained items/s with receipts verified, and release-to-receipt latency at a steady rate.")

            @Option(help: "Items in the throughput run.")
            var items = 200_000

            @Option(help: "Items per second offered in the latency run.")
            var rate = 1000

            @Option(help: "Seconds of the latency run.")
            var seconds = 20.0

            @Option(help: "Throughput runs; the median is reported.")
            var runs = 1

            @Option(help: "Envelopes per batch.")
            var batchSize = 1000

            @Option(help: "Batches in flight per peer.")
            var pipeline = 2

            @Option(help: "Where the nodes keep their data (default: a temporary directory).")
            var dir: String?

            @Option(help: "The Examples folder (default: ./Examples).")
            var examples: String?

            @Flag(help: "Print JSON lines instead of a table.")
            var json = false

            func run() async throws {
                Bench.warnIfDebug("federation")
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let bench = FederationBench(
                    items: items, rate: rate, seconds: seconds, runs: runs, batchSize: batchSize, pipeline: pipeline, directory: dir,
                    examples: try ExampleSet.locate(examples))
                try await bench.run(
                    report: { r in
                        if json {
                            Swift.print(String(decoding: try! encoder.encode(r), as: UTF8.self))
                        } else {
                            Swift.print("\(r.name.padding(toLength: 90, withPad: " ", startingAt: 0)) \(String(format: r.unit == "ms" ? "%10.2f" : "%10.0f", r.value)) \(r.unit)   (\(r.detail))")
                        }
                    }, note: { FileHandle.standardError.write(Data("note: \($0)\n".utf8)) })
            }
        }

        struct Store: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Durable items/s in batches of 1, 100 and 1000 on SQLite and PostgreSQL, ledger appends/s, proof latency at 1M leaves.",
                discussion: """
                    PostgreSQL figures use --postgres, or a throwaway local cluster (initdb and pg_ctl) when it is not given; \
                    --only sqlite measures SQLite alone.
                    """)

            @Option(help: "Timed runs per figure; the median is reported.")
            var runs = 3

            @Option(help: "Work per run relative to the default (e.g. 0.1 for a quick look).")
            var scale = 1.0

            @Flag(help: "Print JSON lines instead of a table.")
            var json = false

            @Option(help: "Only the figures whose name contains this text.")
            var only: String?

            @Option(help: "A PostgreSQL server URL (postgres://user@host:port/database) on which to create the benchmark databases.")
            var postgres: String?

            @Option(help: "Where to put the SQLite stores (default: a temporary directory, removed afterwards).")
            var dir: String?

            func run() async throws {
                Bench.warnIfDebug("store")
                let print = Bench.printer(json: json, nameWidth: 84, rateWidth: 10)
                try await StoreBench(runs: runs, scale: scale, filter: only, postgresURL: postgres, directory: dir).run(
                    report: print, note: { FileHandle.standardError.write(Data("note: \($0)\n".utf8)) })
            }
        }

        struct Crypto: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Single-core seal and open rates per suite, single and batch mode, beside the raw primitives.")

            @Option(help: "Timed runs per figure; the median is reported.")
            var runs = 3

            @Option(help: "Work per run relative to the default (e.g. 0.1 for a quick look).")
            var scale = 1.0

            @Flag(help: "Print JSON lines instead of a table.")
            var json = false

            @Option(help: "Only the figures whose name contains this text.")
            var only: String?

            func run() throws {
                Bench.warnIfDebug("crypto")
                let print = Bench.printer(json: json, nameWidth: 76, rateWidth: 12)
                try CryptoBench(runs: runs, scale: scale, filter: only).run { row in
                    if let row { print(row) }
                }
            }
        }
    }
}

extension Liaison {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a node: its signing and decryption keys, TLS root CA and node certificate, and identity.",
            discussion: """
                Private keys go to DIR/keys (mode 0700, files 0600); DIR/identity.der is the public identity to give \
                the other parties, and DIR/anchors.yaml the trust anchors their agreements must pin.
                """)

        @Option(help: "The party this node serves (ISO 3166-1 alpha-3, e.g. KOR).")
        var party: String

        @Option(help: "The node's data directory.")
        var dir: String

        @Option(help: "The cryptographic suite: hybrid-pq (default) or classic.")
        var suite = "hybrid-pq"

        @Option(help: "A host name or IPv4 address for the node certificate (repeatable).")
        var host: [String] = ["localhost", "127.0.0.1"]

        func run() throws {
            try emit(Commands.initialize(party: party, dir: dir, suite: suite, hosts: host, now: Date()))
        }
    }

    struct NodeCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "node", abstract: "Inspect a node's directory and rotate its keys.", subcommands: [Show.self, Rotate.self])

        struct Rotate: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace the node's signing and decryption keys; the old key signs the new one.",
                discussion: "Both keys stay valid for the overlap; the old keys are kept under DIR/keys/retired.")

            @Option(help: "The node's data directory.")
            var dir: String

            @Option(help: "Days during which the old and the new key are both valid.")
            var overlapDays = 30

            func run() throws { try emit(Commands.rotateNode(dir: dir, overlapDays: overlapDays, now: Date())) }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Load a node's keys (refusing key files others can read) and print its fingerprints.")

            @Option(help: "The node's data directory.")
            var dir: String

            func run() throws { try emit(Commands.showNode(dir: dir)) }
        }
    }
}

extension Liaison {
    struct LedgerCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ledger", abstract: "Check a node's ledger and prove its entries.", subcommands: [Verify.self, Proof.self, Stress.self])

        struct Proof: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the inclusion proof of a ledger entry (and, with --old, a consistency proof), verified before printing.")

            @Option(help: "The node's data directory.")
            var dir: String

            @Option(help: "The entry's index (from 0).")
            var entry: Int

            @Option(help: "The tree size to prove against (default: the latest signed tree head).")
            var size: Int?

            @Option(help: "Also prove that the tree at --size extends the tree of this size.")
            var old: Int?

            @Flag(help: "Print JSON.")
            var json = false

            func run() async throws { try emit(await Commands.ledgerProof(dir: dir, index: entry, size: size, old: old, json: json)) }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Re-derive the ledger root from every entry; compare with the stored tree and the latest signed tree head.",
                discussion: "Exits 0 when intact, 1 otherwise (the problems are printed).")

            @Option(help: "The node's data directory.")
            var dir: String

            @Option(help: "The node's PostgreSQL database URL, when it does not use the embedded store.")
            var postgres: String?

            func run() async throws { try emit(await Commands.verifyLedger(dir: dir, postgresURL: postgres)) }
        }

        struct Stress: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Store batches of items with their ledger entries, printing each acknowledged batch (crash tests).", shouldDisplay: false)

            @Option(help: "The data directory (SQLite).")
            var dir: String?
            @Option(help: "A PostgreSQL database URL instead of --dir.")
            var postgres: String?
            @Option(help: "Number of batches.")
            var batches = 100
            @Option(name: .customLong("batch-size"), help: "Items per batch.")
            var batchSize = 10

            func run() async throws {
                let code = await Commands.stressStore(dir: dir, postgresURL: postgres, batches: batches, batchSize: batchSize) { line in
                    // Unbuffered: the parent reads each acknowledgement as it happens.
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
                if code != 0 { throw ExitCode(code) }
            }
        }
    }
}
