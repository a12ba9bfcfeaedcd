import Foundation
import LiaisonModel
import LiaisonSealing
import Testing

@Suite("Item ids")
struct ItemIDTests {
    /// Ids start with the sealing instant (48-bit milliseconds, big-endian),
    /// so that later seals sort after earlier ones; the other 80 bits are random.
    @Test func idsAreTimeOrderedWithARandomTail() throws {
        let key = try SigningKey.generate(.classic)
        let label = try SecurityLabel(policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.jpn], created: Date())
        let earlier = Date(timeIntervalSince1970: 1_574_560_800.123), later = earlier.addingTimeInterval(0.001)
        let first = try key.sealOrigin(Array(repeating: (label, "text/plain", [UInt8]([1])), count: 50), originator: .kor, at: earlier)
        let second = try key.sealOrigin([(label, "text/plain", [2])], originator: .kor, at: later)
        let ms = UInt64(1_574_560_800_123)
        for item in first {
            let id = item.manifest.itemID
            #expect(id.count == 16)
            #expect(id.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == ms)
            #expect(id.lexicographicallyPrecedes(second[0].manifest.itemID))
        }
        #expect(Set(first.map { $0.manifest.itemID.suffix(10) }).count == 50, "the random tails differ")
    }
}

@Suite("Random UUIDs")
struct RandomUUIDTests {
    /// Version 4 and the RFC 9562 variant, as Foundation's own UUID() makes
    /// them, with 122 random bits: no two of many alike.
    @Test func areVersionFourWithTheRFCVariantAndDistinct() throws {
        var seen = Set<UUID>()
        for _ in 0..<2000 {
            let id = UUID.random()
            let text = id.uuidString
            let chars = Array(text)
            #expect(chars[14] == "4", "version 4: \(text)")
            #expect("89AB".contains(chars[19]), "variant 10xx: \(text)")
            #expect(UUID(uuidString: text) == id)
            seen.insert(id)
        }
        #expect(seen.count == 2000)
        // The random bits are not stuck: every hex digit outside the fixed ones varies.
        let texts = seen.map { Array($0.uuidString) }
        for position in 0..<36 where ![8, 13, 14, 18, 19, 23].contains(position) {
            #expect(Set(texts.map { $0[position] }).count > 8, "position \(position) varies")
        }
    }
}
