import Foundation
import LiaisonSealing
import LiaisonStore
import LiaisonStorePostgres
import LiaisonTesting
import PostgresNIO
import Testing

/// A store on a fresh database of the test cluster.
func postgresStore(database: String? = nil) async throws -> PostgresStore {
    let cluster = try TestPostgres.shared.get()
    let name = try database ?? cluster.createDatabase()
    var config = PostgresClient.Configuration(host: "127.0.0.1", port: cluster.port, username: cluster.user, password: nil, database: name, tls: .disable)
    config.options.maximumConnections = 8
    return try await PostgresStore(configuration: config)
}

@Suite("PostgreSQL store")
struct PostgresStoreTests {
    @Test func passesTheConformanceSuite() async throws {
        try await LedgerStoreConformance.run { try await postgresStore() }
    }

    /// Two replicas of one node share the database: the advisory lock
    /// makes one sequencer at a time, and the ledger stays one log.
    @Test func twoReplicasSequenceOneLedger() async throws {
        let name = try TestPostgres.shared.get().createDatabase()
        let a = try await postgresStore(database: name), b = try await postgresStore(database: name)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (replica, store) in [(0, a), (1, b)] {
                group.addTask {
                    for round in 0..<20 {
                        _ = try await store.append(LedgerStoreConformance.entries(3, detail: "r\(replica) \(round) "), sign: LedgerStoreConformance.sign())
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await a.size() == 120)
        let v = try await b.verify()
        #expect(v.isIntact && v.treeHeadSize == 120, "\(v)")
        #expect(try await a.root(size: 120) == (try await b.root(size: 120)))
    }
}
