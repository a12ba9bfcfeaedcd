public import Foundation
internal import LiaisonLedger
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import LiaisonStorePostgres
internal import LiaisonStoreSQLite

/// What a command printed and how it ends; the CLI writes it out.
public struct CommandOutput: Sendable, Hashable {
    public var stdout: [String] = []
    public var stderr: [String] = []
    public var exitCode: Int32 = 0
    public init() {}
    /// A failure: the reason on standard error, exit status 1.
    public init(failure reason: String) {
        stderr = [reason]
        exitCode = 1
    }
}

/// The logic behind `liaison agreement …` and `liaison label …`, kept out of
/// the executable so tests call it directly.
public enum Commands {
    /// `liaison agreement check FILE…`: every error of every file; exit 1 if any.
    public static func check(files: [String], statements: String? = nil) -> CommandOutput {
        var out = CommandOutput()
        for file in files {
            do {
                let a = try DocumentFiles.agreement(at: file)
                let rows = a.equivalence.rows.map(\.tier).joined(separator: ", ")
                out.stdout.append(
                    "\(file): ok — \(a.id), parties \(a.partyCodes.map(\.code).joined(separator: ", ")), equivalence \(rows), renewal \(a.term.renewal.rawValue), notice \(a.term.noticePeriodDays) days\(a.hub.map { ", hub \($0.hub)" } ?? "")"
                )
                if let statements {
                    let list = try DocumentFiles.statements(at: statements, for: a.id)
                    let life = AgreementLifecycle(agreement: a, statements: list)
                    for r in life.refused {
                        out.stderr.append("\(statements): \(r.statement.id): refused — \(r.refusal)")
                        out.exitCode = 1
                    }
                    if life.refused.isEmpty {
                        out.stdout.append("\(statements): ok — \(life.accepted.count) statements accepted")
                    }
                }
            } catch {
                out.stderr.append(error.description)
                out.exitCode = 1
            }
        }
        return out
    }

    /// Parses `--at`: an RFC 3339 instant with an offset, or `now`.
    public static func instant(_ text: String?, now: Date) throws(AppError) -> Date {
        guard let text, text != "now" else { return now }
        guard let d = RFC3339.parse(text) else {
            throw AppError(
                .invalidArgument,
                "--at \(text): expected an RFC 3339 instant with an offset, e.g. 2019-11-22T20:00:00+09:00, or 'now'")
        }
        return d
    }

    /// `liaison agreement status FILE [--statements FILE] --at INSTANT [--json]`.
    public static func status(file: String, statements: String?, at: String?, json: Bool, now: Date = Date())
        -> CommandOutput
    {
        var out = CommandOutput()
        do {
            let instant = try instant(at, now: now)
            let a = try DocumentFiles.agreement(at: file)
            let list = try statements.map { path throws(AppError) in try DocumentFiles.statements(at: path, for: a.id) } ?? []
            let report = StatusReport(lifecycle: AgreementLifecycle(agreement: a, statements: list), at: instant)
            out.stdout.append(json ? report.json : report.text)
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison label mark --agreement FILE --to PARTY --level CODE [--from PARTY]`:
    /// the dual marking (Art 4) or the refusal, exit 2 on refusal.
    public static func mark(agreement file: String, to: String, level: String, from: String?) -> CommandOutput {
        var out = CommandOutput()
        do throws(AppError) {
            let a = try DocumentFiles.agreement(at: file)
            guard let receiver = Party(to) else {
                throw AppError(.invalidArgument, "--to \(to): not a party code (three capital letters, e.g. JPN)")
            }
            let originator: Party
            if let from {
                guard let p = Party(from) else {
                    throw AppError(.invalidArgument, "--from \(from): not a party code (three capital letters, e.g. KOR)")
                }
                originator = p
            } else {
                let owners = a.parties.filter { $0.scheme.level(level) != nil && $0.party != receiver }.map(\.party)
                guard owners.count == 1 else {
                    throw AppError(
                        .invalidArgument,
                        owners.isEmpty
                            ? "level \(level) is not in the scheme of any other party to \(a.id); pass --from PARTY"
                            : "level \(level) exists in the schemes of \(owners.map(\.code).joined(separator: " and ")); pass --from PARTY")
                }
                originator = owners[0]
            }
            switch DualMarking.make(agreement: a, originator: originator, level: level, receiver: receiver) {
            case .success(let m):
                out.stdout.append("originator  \(m.originator)  \(m.originatorLevel.marking)  (\(m.originatorLevel.romanization); \(m.originatorLevel.gloss))")
                out.stdout.append("receiver    \(m.receiver)  \(m.receiverLevel.marking)  (\(m.receiverLevel.romanization); \(m.receiverLevel.gloss))")
                if !m.alternatives.isEmpty {
                    out.stdout.append("            or \(m.alternatives.map { "\($0.marking) (\($0.code))" }.joined(separator: ", ")) on the same tier")
                }
                out.stdout.append("tier        \(m.tier) under \(m.agreement) (Art 4)")
            case .failure(let r):
                out.stderr.append("refused — \(r.article): \(r.reason)")
                out.exitCode = 2
            }
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison init --party P --dir DIR [--suite S] [--host H…]`.
    public static func initialize(party: String, dir: String, suite: String, hosts: [String], now: Date) -> CommandOutput {
        var out = CommandOutput()
        do throws(AppError) {
            guard let p = Party(party) else {
                throw AppError(.invalidArgument, "--party \(party): not a party code (three capital letters, e.g. KOR)")
            }
            guard let s = CryptoSuite(rawValue: suite) else {
                throw AppError(.invalidArgument, "--suite \(suite): expected hybrid-pq or classic")
            }
            guard !hosts.isEmpty else { throw AppError(.invalidArgument, "--host: name at least one host for the certificate") }
            let identity = try NodeDirectory(path: dir).initialize(party: p, suite: s, hosts: hosts, now: now)
            out.stdout.append("Initialised a \(s.rawValue) node for \(p) in \(dir).")
            out.stdout.append(NodeDirectory.anchorsYAML(identity))
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison node show --dir DIR`.
    public static func showNode(dir: String) -> CommandOutput {
        var out = CommandOutput()
        do throws(AppError) {
            let node = try NodeDirectory(path: dir).load()
            out.stdout.append("\(node.party) node, suite \(node.identity.signingKey.suite.rawValue), keys intact.")
            out.stdout.append(NodeDirectory.anchorsYAML(node.identity))
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison label export …`: a label from the command line as STANAG 4774 XML.
    public static func exportLabel(
        policy: String?, originator: String, level: String, releasableTo: [String], categories: [String], purpose: String?,
        created: String?, review: String?, now: Date
    ) -> CommandOutput {
        var out = CommandOutput()
        do throws(AppError) {
            guard let origin = Party(originator) else {
                throw AppError(.invalidArgument, "--originator \(originator): not a party code (three capital letters)")
            }
            var parties = Set<Party>()
            for r in releasableTo.flatMap({ $0.split(separator: ",").map(String.init) }) {
                guard let p = Party(r) else { throw AppError(.invalidArgument, "--releasable-to \(r): not a party code") }
                parties.insert(p)
            }
            var cats: [LiaisonModel.Category] = []
            for c in categories {
                // TYPE:Tag=value,value
                let typeAndRest = c.split(separator: ":", maxSplits: 1).map(String.init)
                let tagAndValues = typeAndRest.count == 2 ? typeAndRest[1].split(separator: "=", maxSplits: 1).map(String.init) : []
                guard typeAndRest.count == 2, let kind = LiaisonModel.Category.Kind(rawValue: typeAndRest[0].uppercased()),
                    tagAndValues.count == 2
                else {
                    throw AppError(
                        .invalidArgument, "--category \(c): expected TYPE:Tag=value[,value…] with TYPE PERMISSIVE, RESTRICTIVE or INFORMATIVE")
                }
                cats.append(.init(tag: tagAndValues[0], kind: kind, values: tagAndValues[1].split(separator: ",").map(String.init)))
            }
            let createdAt = try instant(created, now: now)
            let reviewAt = try review.map { r throws(AppError) in try instant(r, now: now) }
            let label: SecurityLabel
            do {
                label = try SecurityLabel(
                    policy: policy ?? "national:\(origin)", originator: origin, level: level, releasableTo: parties, categories: cats,
                    purpose: purpose, created: createdAt, review: reviewAt)
            } catch {
                throw AppError(.invalidArgument, error.reason)
            }
            do {
                out.stdout.append(try STANAG4774.export(label))
            } catch {
                throw AppError(.invalidArgument, error.reason)
            }
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison label import FILE [--agreement FILE --to PARTY]`: reads a
    /// STANAG 4774 label, prints it, and with an agreement its dual marking.
    public static func importLabel(file: String, agreement: String?, to: String?) -> CommandOutput {
        var out = CommandOutput()
        do throws(AppError) {
            let source = try DocumentFiles.read(file)
            let label: SecurityLabel
            do { label = try STANAG4774.import(source.text) } catch { throw AppError(.invalidDocument, "\(file): \(error.reason)") }
            out.stdout.append("policy       \(label.policy)")
            out.stdout.append("originator   \(label.originator)")
            out.stdout.append("level        \(label.level)")
            out.stdout.append("releasable   \(label.releasableTo.sorted().map(\.code).joined(separator: ", "))")
            for c in label.categories { out.stdout.append("category     \(c.kind.rawValue) \(c.tag): \(c.values.joined(separator: ", "))") }
            if let p = label.purpose { out.stdout.append("purpose      \(p)") }
            out.stdout.append("created      \(RFC3339.format(label.created))")
            if let r = label.review { out.stdout.append("review       \(RFC3339.format(r))") }
            if let agreement {
                guard let to else { throw AppError(.invalidArgument, "--agreement needs --to PARTY") }
                let m = mark(agreement: agreement, to: to, level: label.level, from: label.originator.code)
                out.stdout += m.stdout
                out.stderr += m.stderr
                out.exitCode = m.exitCode
            }
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison node rotate --dir DIR [--overlap-days N]`.
    public static func rotateNode(dir: String, overlapDays: Int, now: Date) -> CommandOutput {
        var out = CommandOutput()
        do throws(AppError) {
            let rotation = try NodeDirectory(path: dir).rotate(overlapDays: overlapDays, now: now)
            let b = rotation.body
            out.stdout.append("Rotated the keys of the \(b.party) node in \(dir).")
            out.stdout.append("old signing key sha256:\(Hex.encode(b.oldKeyID)) valid until \(RFC3339.format(b.oldValidUntil))")
            out.stdout.append("new signing key \(b.newKey.fingerprint) valid from \(RFC3339.format(b.validFrom))")
            out.stdout.append("Give \(dir)/rotations/ to the other parties: their nodes accept the new key because the old one signed it.")
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison ledger verify --dir DIR`: re-derives the ledger from its
    /// entries and checks the stored tree and the latest signed tree head.
    public static func verifyLedger(dir: String, postgresURL: String? = nil) async -> CommandOutput {
        var out = CommandOutput()
        do {
            let trust = try NodeDirectory(path: dir).ledgerTrust()
            let store: any LedgerStore
            if let postgresURL {
                store = try await PostgresStore(configuration: PostgresLocation(url: postgresURL).configuration(maximumConnections: 2))
            } else {
                guard FileManager.default.fileExists(atPath: dir + "/node.sqlite") else {
                    throw StoreError(.notFound, "\(dir) holds no ledger (node.sqlite)")
                }
                store = try SQLiteStore(directory: dir)
            }
            let v = try await store.verify(trust: trust)
            if v.isIntact {
                out.stdout.append(v.description)
                out.stdout.append(trust == nil ? "tree-head signatures not checked: \(dir) holds no node identity" : "every tree-head signature verifies against this node's keys")
            } else {
                out.stderr.append(v.description)
            }
            out.exitCode = v.isIntact ? 0 : 1
        } catch let e as AppError {
            out.stderr.append(e.description)
            out.exitCode = 1
        } catch {
            out.stderr.append("\(error)")
            out.exitCode = 1
        }
        return out
    }

    /// `liaison ledger proof`: the inclusion proof of entry `index` in the
    /// tree of `size` entries (default: the latest signed tree head), checked
    /// before it is printed; with `old`, the consistency proof from that size.
    public static func ledgerProof(dir: String, index: Int, size: Int?, old: Int?, json: Bool) async -> CommandOutput {
        var out = CommandOutput()
        do throws(StoreError) {
            guard FileManager.default.fileExists(atPath: dir + "/node.sqlite") else {
                throw StoreError(.notFound, "\(dir) holds no ledger (node.sqlite)")
            }
            let store = try SQLiteStore(directory: dir)
            let head = try await store.latestTreeHead()
            let current = try await store.size()
            let treeSize = size ?? head?.body.size ?? current
            let entry = try await store.entry(at: index)
            let root = try await store.root(size: treeSize)
            let path = try await store.inclusionProof(index: index, size: treeSize)
            guard MerkleHash.root(fromLeaf: entry.leafHash, index: index, size: treeSize, path: AuditPath(path)) == root else {
                throw StoreError(.corrupt, "the inclusion proof of entry \(index) does not lead to the root at \(treeSize); run liaison ledger verify")
            }
            let signed = head.flatMap { $0.body.size == treeSize && $0.body.root == root ? $0 : nil }
            var consistency: [[UInt8]]?
            if let old {
                let proof = try await store.consistencyProof(old: old, new: treeSize)
                let oldRoot = try await store.root(size: old)
                guard MerkleLog.verifyConsistency(old: old, new: treeSize, oldRoot: oldRoot, newRoot: root, proof: proof) else {
                    throw StoreError(.corrupt, "the consistency proof from \(old) to \(treeSize) does not verify; run liaison ledger verify")
                }
                consistency = proof
            }
            if json {
                var object: [String: Any] = [
                    "index": index, "tree_size": treeSize, "leaf_hash": Hex.encode(entry.leafHash), "root": Hex.encode(root),
                    "inclusion_path": path.map { Hex.encode($0) }, "entry": Hex.encode(entry.derBytes),
                ]
                if let signed { object["signed_tree_head"] = Data(signed.derBytes).base64EncodedString() }
                if let old, let consistency { (object["consistency_from"], object["consistency_path"]) = (old, consistency.map { Hex.encode($0) }) }
                let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                out.stdout.append(String(decoding: data ?? Data(), as: UTF8.self))
            } else {
                out.stdout.append("entry \(index) of \(treeSize): \(entry.kind) at \(RFC3339.format(entry.at))\(entry.party.map { " with \($0)" } ?? "")")
                out.stdout.append("leaf hash       \(Hex.encode(entry.leafHash))")
                out.stdout.append("root at \(treeSize)".padding(toLength: 16, withPad: " ", startingAt: 0) + Hex.encode(root))
                out.stdout.append(
                    signed.map { "signed tree head at \($0.body.size), \(RFC3339.format($0.body.signedAt)), by \($0.body.signer)" }
                        ?? "no signed tree head at \(treeSize)")
                out.stdout.append("inclusion proof (\(path.count) \(path.count == 1 ? "hash" : "hashes"), RFC 9162 §2.1.3):")
                for (i, h) in path.enumerated() { out.stdout.append("  \(i): \(Hex.encode(h))") }
                if let old, let consistency {
                    out.stdout.append("consistency proof \(old) → \(treeSize) (\(consistency.count) \(consistency.count == 1 ? "hash" : "hashes"), RFC 9162 §2.1.4):")
                    for (i, h) in consistency.enumerated() { out.stdout.append("  \(i): \(Hex.encode(h))") }
                }
                out.stdout.append("verified: the path leads from the entry to the root")
            }
        } catch {
            out.stderr.append(error.description)
            out.exitCode = 1
        }
        return out
    }

    /// `liaison ledger stress`: appends batches, printing `acked SIZE` after
    /// each durable append — the child process of the crash tests.
    /// Stores batches of items, each item with its ledger entry and each
    /// batch with a signed tree head, in one durable transaction per batch;
    /// prints `acked SIZE FIRST LAST` (the ledger size and the first and last
    /// item ids of the batch) once the batch is committed. The crash tests
    /// kill it with SIGKILL at random points.
    public static func stressStore(dir: String?, postgresURL: String?, batches: Int, batchSize: Int, emit: (String) -> Void) async -> Int32 {
        do {
            let store: any NodeStore
            if let postgresURL {
                store = try await PostgresStore(configuration: PostgresLocation(url: postgresURL).configuration(), storageKey: .generate())
            } else if let dir {
                store = try SQLiteStore(directory: dir, storageKey: .generate())
            } else {
                emit("error: give --dir or --postgres")
                return 2
            }
            let key = try SigningKey.generate(.classic)
            let label = try SecurityLabel(policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.jpn], created: Date())
            for _ in 0..<batches {
                let sealed = try key.sealOrigin(
                    (0..<batchSize).map { i in (label, "application/octet-stream", [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 1024)) },
                    originator: .kor, at: Date())
                let items = sealed.map { NewItem($0, source: .originated, at: Date()) }
                let entries = sealed.map { LedgerEntry(kind: .itemSealed, at: Date(), subjects: [$0.manifest.digest]) }
                let receipt = try await store.storeItems(items, ledger: LedgerWrite(entries) { size, root in
                    try Signed(signing: TreeHead(party: .kor, size: size, root: root, at: Date()), with: key)
                })
                emit("acked \(receipt.entries.upperBound) \(Hex.encode(sealed[0].manifest.itemID)) \(Hex.encode(sealed[batchSize - 1].manifest.itemID))")
            }
            return 0
        } catch {
            emit("error \(error)")
            return 1
        }
    }
}
