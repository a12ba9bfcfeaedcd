import Foundation
@testable import LiaisonFederation
import LiaisonApp
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonTesting
import Synchronization
import Testing

/// Concurrent originations share one seal: those made while a group is
/// sealed wait and are sealed together next, each caller getting back its
/// own items; a refused group is sealed again one caller at a time.
@Suite("Coalescing queue: originations") struct OriginationQueueTests {
    static let key = try! SigningKey.generate(.classic)
    static let trust: TrustStore = {
        var t = TrustStore()
        t.pin(key.verifyingKey, of: .kor)
        return t
    }()

    static func items(_ name: String, _ count: Int = 1) -> [Federation.Origination] {
        (0..<count).map { (ExchangeTests.label(), "text/plain", Array("\(name)/\($0)".utf8)) }
    }

    static func names(_ items: [Federation.Origination]) -> [String] { items.map { String(decoding: $0.payload, as: UTF8.self) } }

    /// A sealer that records each group, holds the first until `hold` originations wait behind it, and refuses as told.
    final class Sealer: Sendable {
        let queue: CoalescingQueue<[Federation.Origination], [SealedItem]>
        let hold: Int
        let failure: @Sendable ([String]) -> FederationError?
        let groups = Mutex<[[String]]>([])

        init(_ queue: CoalescingQueue<[Federation.Origination], [SealedItem]>, hold: Int, failure: @escaping @Sendable ([String]) -> FederationError? = { _ in nil }) {
            (self.queue, self.hold, self.failure) = (queue, hold, failure)
        }

        func seal(_ calls: [[Federation.Origination]]) async throws(FederationError) -> [[SealedItem]] {
            let items = calls.flatMap { $0 }
            let first = groups.withLock {
                $0.append(OriginationQueueTests.names(items))
                return $0.count == 1
            }
            if first {
                let deadline = Date().addingTimeInterval(10)
                while queue.waiting < hold, Date() < deadline { try? await Task.sleep(nanoseconds: 1_000_000) }
            }
            if let e = failure(OriginationQueueTests.names(items)) { throw e }
            return try Federation.sealTogether(calls) { try OriginationQueueTests.key.sealOrigin($0, originator: .kor, at: Date()) }
        }
    }

    static func originateConcurrently(_ queue: CoalescingQueue<[Federation.Origination], [SealedItem]>, _ sealer: Sealer, callers: Int, each: Int = 1)
        async -> [String: Result<[SealedItem], FederationError>]
    {
        await withTaskGroup(of: (String, Result<[SealedItem], FederationError>).self) { group in
            for n in 0..<callers {
                group.addTask {
                    do throws(FederationError) {
                        let sealed = try await queue.submit(items("c\(n)", each)) { i in try await sealer.seal(i) }
                        return ("c\(n)", .success(sealed))
                    } catch {
                        return ("c\(n)", .failure(error))
                    }
                }
                // The first caller leads before the others arrive.
                if n == 0 { while sealer.groups.withLock({ $0.isEmpty }) { await Task.yield() } }
            }
            var out: [String: Result<[SealedItem], FederationError>] = [:]
            for await (name, result) in group { out[name] = result }
            return out
        }
    }

    @Test func originationsWaitingBehindOneAreSealedTogetherAndEachGetsItsOwn() async throws {
        let queue = Federation.originationQueue()
        let sealer = Sealer(queue, hold: 9)
        let results = await Self.originateConcurrently(queue, sealer, callers: 10, each: 3)
        let groups = sealer.groups.withLock { $0 }
        #expect(groups.count == 2, "\(groups)")
        #expect(groups.first == Self.names(Self.items("c0", 3)))
        #expect(groups.last?.count == 27)
        for (name, result) in results {
            let sealed = try result.get()
            #expect(Self.names(sealed.map { ($0.manifest.label, $0.manifest.mediaType, $0.payload) }) == Self.names(Self.items(name, 3)))
            // Each item's seal verifies, and the nine that waited share one root.
            for s in sealed { try s.seal.verify(s.manifest, trust: Self.trust) }
        }
        let roots = Set(results.filter { $0.key != "c0" }.map { try! $0.value.get()[0].seal.root })
        #expect(roots.count == 1)
    }

    /// Each caller gets exactly its own items back; a sealing that returns
    /// another number of items fails the group rather than handing out
    /// short or shifted answers.
    @Test func aGroupIsHandedBackCallerByCallerAndAShortSealingFailsIt() throws {
        let calls = [Self.items("a", 2), Self.items("b", 1), Self.items("c", 3)]
        let sealed = try Federation.sealTogether(calls) { try Self.key.sealOrigin($0, originator: .kor, at: Date()) }
        #expect(sealed.map(\.count) == [2, 1, 3])
        #expect(sealed.map { $0.map { String(decoding: $0.payload, as: UTF8.self) } } == calls.map(Self.names))
        #expect(throws: FederationError(.unavailable, "")) {
            _ = try Federation.sealTogether(calls) { Array(try Self.key.sealOrigin($0, originator: .kor, at: Date()).dropLast()) }
        }
        #expect(throws: FederationError(.refused, "")) {
            _ = try Federation.sealTogether(calls) { _ in throw SealingError(.invalidKey, "the key is gone") }
        }
    }

    @Test func aRefusedGroupIsSealedAgainOneCallerAtATime() async throws {
        let queue = Federation.originationQueue()
        let sealer = Sealer(queue, hold: 4) { names in names.contains("c3/0") ? FederationError(.refused, "c3 is refused") : nil }
        let results = await Self.originateConcurrently(queue, sealer, callers: 5)
        for (name, result) in results {
            if name == "c3" {
                #expect(throws: FederationError.self) { try result.get() }
            } else {
                #expect(Self.names(try result.get().map { ($0.manifest.label, $0.manifest.mediaType, $0.payload) }) == ["\(name)/0"])
            }
        }
        // c0 alone, the four together (refused), then each of the four alone.
        #expect(sealer.groups.withLock { $0.count } == 6)
    }

    @Test func aGroupIsAtMostOneStoreBatch() async throws {
        let queue = Federation.originationQueue()
        let sealer = Sealer(queue, hold: 3)
        let each = NodeRules.maximumItemsPerBatch / 2
        let results = await Self.originateConcurrently(queue, sealer, callers: 4, each: each)
        #expect(results.values.allSatisfy { (try? $0.get().count) == each })
        let sizes = sealer.groups.withLock { $0.map(\.count) }
        #expect(sizes == [each, 2 * each, each], "\(sizes)")
    }
}

/// The queue in a node: concurrent originations on a real store.
@Suite("Concurrent originations", .serialized) struct ConcurrentOriginationTests {
    @Test func concurrentOriginationsAreEachStoredAndShareSeals() async throws {
        let net = try await LocalFederation.start(parties: [.kor], examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger)
        defer { Task { await net.stop() } }
        let kor = net[.kor]
        let sealed = try await withThrowingTaskGroup(of: SealedItem.self) { group in
            for n in 0..<20 {
                group.addTask { try await kor.federation.originate([(ExchangeTests.label(), "text/plain", Array("item \(n)".utf8))])[0] }
            }
            return try await group.reduce(into: [SealedItem]()) { $0.append($1) }
        }
        #expect(Set(sealed.map { String(decoding: $0.payload, as: UTF8.self) }) == Set((0..<20).map { "item \($0)" }))
        for s in sealed {
            let held = try await kor.store.item(s.manifest.itemID)
            #expect(held.payload == s.payload && held.holding.source == .originated)
        }
        // Each seal verifies against KOR's pinned key, whichever group it was sealed in (the grouping itself is timed, and tested above).
        for s in sealed { try s.seal.verify(s.manifest, trust: kor.federation.trust) }
    }

    @Test func anEmptyOriginationIsRefusedNotSealed() async throws {
        let net = try await LocalFederation.start(parties: [.kor], examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger)
        defer { Task { await net.stop() } }
        let error = await #expect(throws: FederationError.self) { try await net[.kor].federation.originate([]) }
        #expect(error?.code == .malformed)
    }
}
