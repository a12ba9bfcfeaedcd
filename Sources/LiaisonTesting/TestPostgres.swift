internal import Foundation
public import LiaisonSealing
public import LiaisonStorePostgres

/// The PostgreSQL server of the tests: the one `LIAISON_TEST_POSTGRES_URL`
/// points at (its database is the administrative one), else a throwaway
/// cluster started for this test process. Each store gets a fresh database.
public enum TestPostgres {
    public static let server: Result<PostgresLocation, LocalPostgresCluster.Unavailable> = {
        if let url = ProcessInfo.processInfo.environment["LIAISON_TEST_POSTGRES_URL"], !url.isEmpty {
            return Result { try PostgresLocation(url: url) }.mapError { LocalPostgresCluster.Unavailable(description: "LIAISON_TEST_POSTGRES_URL: \($0)") }
        }
        return LocalPostgresCluster.shared.map(\.location)
    }()

    /// A new, empty database on the test server.
    public static func newDatabase() async throws -> PostgresLocation {
        let server = try server.get()
        let name = "t" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try await PostgresStore.createDatabase(name, at: server)
        return server.with(database: name)
    }

    /// A store on `database`, or on a new database.
    public static func store(_ database: PostgresLocation? = nil, storageKey: StorageKey? = nil) async throws -> PostgresStore {
        let location: PostgresLocation
        if let database { location = database } else { location = try await newDatabase() }
        return try await PostgresStore(configuration: location.configuration(), storageKey: storageKey)
    }
}
