// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "tiktok-audience-sync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tiktok-audience-sync", targets: ["tiktok-audience-sync"]),
        .executable(name: "tiktok-emulator", targets: ["tiktok-emulator"]),
        .library(name: "AudienceSync", targets: ["AudienceSync"]),
        .library(name: "TikTokEmulator", targets: ["TikTokEmulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "AudienceSync",
            dependencies: [
                "CSQLite", "CZlib", "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            // The reader, planner and sender are hot loops: optimise them in debug builds too, so the
            // end-to-end tests (which kill and restart the daemon on 200,000-row files) run at
            // production speed. `swift test` still gets testable builds.
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .executableTarget(
            name: "tiktok-audience-sync",
            dependencies: [
                "AudienceSync", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TikTokEmulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Parses 10,000-user request bodies: optimised in debug builds too, like AudienceSync.
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .executableTarget(
            name: "tiktok-emulator",
            dependencies: [
                "TikTokEmulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "TestFixtures",
            dependencies: ["CZlib", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/TestFixtures"
        ),
        .testTarget(
            name: "AudienceSyncTests",
            dependencies: ["AudienceSync", "TikTokEmulator", "TestFixtures"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TikTokEmulator", "AudienceSync", "TestFixtures",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ]
)
