import Foundation
import LiaisonApp
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Testing

@Suite("liaison init: node identity and key files")
struct NodeDirectoryTests {
    @Test(arguments: [CryptoSuite.hybridPQ, .classic])
    func initialiseThenLoad(suite: CryptoSuite) throws {
        let dir = TempDir()
        let node = NodeDirectory(path: dir.path + "/kor")
        let identity = try node.initialize(party: .kor, suite: suite, hosts: ["localhost", "127.0.0.1"], now: Date())
        for key in ["signing.pem", "decryption.pem", "tls-root-ca.key.pem", "tls-node.key.pem"] {
            let mode = try FileManager.default.attributesOfItem(atPath: node.keys + "/" + key)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(key) has mode \(String(mode ?? 0, radix: 8))")
        }
        #expect(try FileManager.default.attributesOfItem(atPath: node.keys)[.posixPermissions] as? Int == 0o700)
        let loaded = try node.load()
        #expect(loaded.identity == identity)
        #expect(loaded.signing.verifyingKey == identity.signingKey)
        #expect(identity.signingKey.suite == suite)
        // The anchors printed for agreements pin exactly these keys.
        let anchors = try String(contentsOfFile: dir.path + "/kor/anchors.yaml", encoding: .utf8)
        for a in identity.anchors { #expect(anchors.contains(a.fingerprint)) }
        // A signature by the loaded key verifies against the identity an agreement pins.
        var kj = Fixtures.kj
        kj.parties[0].trustAnchors = identity.anchors
        kj.parties[1].trustAnchors = Nodes.jpn.identity.anchors
        let trust = try TrustStore(agreements: [kj], identities: [identity])
        let head = try Signed(signing: TreeHead(party: .kor, size: 0, root: MerkleHash.empty, at: Date()), with: loaded.signing)
        #expect(throws: Never.self) { _ = try head.verified(by: trust) }
    }

    @Test func keysAreNeverOverwritten() throws {
        let dir = TempDir()
        let node = NodeDirectory(path: dir.path)
        _ = try node.initialize(party: .jpn, suite: .hybridPQ, hosts: ["localhost"], now: Date())
        let before = try Data(contentsOf: URL(fileURLWithPath: node.keys + "/signing.pem"))
        #expect(throws: AppError(.invalidArgument, "")) {
            try node.initialize(party: .jpn, suite: .hybridPQ, hosts: ["localhost"], now: Date())
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: node.keys + "/signing.pem")) == before)
    }

    @Test(arguments: ["signing.pem", "decryption.pem", "tls-node.key.pem", "tls-root-ca.key.pem"])
    func looseKeyFilesAreRefused(file: String) throws {
        let dir = TempDir()
        let node = NodeDirectory(path: dir.path)
        _ = try node.initialize(party: .usa, suite: .classic, hosts: ["localhost"], now: Date())
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: node.keys + "/" + file)
        #expect(throws: AppError(.insecureKeyFile, "")) { try node.load() }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: node.keys + "/" + file)
        #expect(throws: Never.self) { try node.load() }
    }

    @Test func mismatchedOrDamagedKeysAreRefused() throws {
        let dir = TempDir()
        let a = NodeDirectory(path: dir.path + "/a"), b = NodeDirectory(path: dir.path + "/b")
        _ = try a.initialize(party: .kor, suite: .hybridPQ, hosts: ["localhost"], now: Date())
        _ = try b.initialize(party: .kor, suite: .hybridPQ, hosts: ["localhost"], now: Date())
        // b's identity with a's keys.
        try FileManager.default.removeItem(atPath: a.path + "/identity.der")
        try FileManager.default.copyItem(atPath: b.path + "/identity.der", toPath: a.path + "/identity.der")
        #expect(throws: AppError(.invalidDocument, "")) { try a.load() }
        // A truncated key file.
        let key = b.keys + "/signing.pem"
        let text = try String(contentsOfFile: key, encoding: .utf8)
        try FileManager.default.removeItem(atPath: key)
        _ = FileManager.default.createFile(atPath: key, contents: Data(text.prefix(40).utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: AppError(.invalidDocument, "")) { try b.load() }
    }

    @Test func rotationIsAcceptedByPeersThroughTheOldKey() throws {
        let dir = TempDir()
        let node = NodeDirectory(path: dir.path)
        let before = try node.initialize(party: .kor, suite: .hybridPQ, hosts: ["localhost"], now: Date())
        let now = Fixtures.at("2030-01-01T00:00:00Z")
        let out = Commands.rotateNode(dir: dir.path, overlapDays: 30, now: now)
        #expect(out.exitCode == 0, "\(out.stderr)")
        let after = try node.load()
        #expect(after.identity.signingKey != before.signingKey)
        #expect(after.identity.encryptionKey != before.encryptionKey)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/rotations")
        #expect(files.count == 1)
        let rotation = try KeyRotation(canonical: Array(FileManager.default.contents(atPath: dir.path + "/rotations/" + files[0])!))
        // A peer that pinned the old key accepts the new one through the rotation.
        var trust = TrustStore()
        trust.pin(before.signingKey, of: .kor)
        try trust.accept(rotation)
        let head = try Signed(signing: TreeHead(party: .kor, size: 0, root: MerkleHash.empty, at: now.addingTimeInterval(3600)), with: after.signing)
        #expect(throws: Never.self) { _ = try head.verified(by: trust) }
        #expect(try trust.encryptionKey(of: .kor) == after.identity.encryptionKey)
        let retired = try FileManager.default.contentsOfDirectory(atPath: node.keys + "/retired")
        #expect(retired.count == 2)
        for f in retired {
            #expect(try FileManager.default.attributesOfItem(atPath: node.keys + "/retired/" + f)[.posixPermissions] as? Int == 0o600)
        }
        #expect(Commands.rotateNode(dir: dir.path, overlapDays: 0, now: now).exitCode == 1)
    }
}
