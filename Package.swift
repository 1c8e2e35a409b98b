// swift-tools-version: 6.2
import PackageDescription

/// Debug builds of the hot loops are optimised too (see the targets below).
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

/// Every part of the product, for the tests.
let allParts: [Target.Dependency] = [
    "AudienceModel", "AudienceSupport", "AudienceReading", "AudiencePlanning", "AudienceLedger", "AudienceTikTok",
    "AudienceConfig", "AudienceInbox", "AudienceSending", "AudienceDaemon",
]

let package = Package(
    name: "tiktok-audience-sync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tiktok-audience-sync", targets: ["tiktok-audience-sync"]),
        .executable(name: "tiktok-emulator", targets: ["tiktok-emulator"]),
        // The reader on its own, for the fuzzer (Fuzz/), which builds it with sanitizers.
        .library(name: "AudienceReading", targets: ["AudienceReading", "AudienceModel"]),

        .library(name: "TikTokEmulator", targets: ["TikTokEmulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CMalloc"),
        // statx(2)'s birth time, which Glibc's Swift module does not offer.
        .target(name: "CFileBirth", path: "Sources/CFileBirth"),
        // The product's parts, one target each: the compiler keeps the boundaries. Only
        // AudienceLedger links SQLite, only AudienceTikTok the HTTP client, only AudienceInbox moves
        // files. The reader, planner and sender are hot loops: optimised in debug builds too, so
        // the end-to-end tests (which kill and restart the daemon on 200,000-row files) run at
        // production speed; `swift test` still gets testable builds.
        .target(name: "AudienceModel", path: "Sources/Model", swiftSettings: optimised),
        .target(
            name: "AudienceSupport",
            dependencies: ["AudienceModel", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Support", swiftSettings: optimised),
        .target(
            name: "AudienceReading",
            dependencies: ["AudienceModel", "AudienceSupport", "CZlib", .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Reading", swiftSettings: optimised),
        .target(
            name: "AudiencePlanning", dependencies: ["AudienceModel", "AudienceReading"], path: "Sources/Planning",
            swiftSettings: optimised),
        .target(
            name: "AudienceLedger",
            dependencies: ["AudienceModel", "AudienceSupport", "AudienceReading", "AudiencePlanning", "CSQLite"],
            path: "Sources/Ledger", swiftSettings: optimised),
        .target(
            name: "AudienceTikTok",
            dependencies: [
                "AudienceModel", "AudienceSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/TikTok", swiftSettings: optimised),
        .target(
            name: "AudienceConfig",
            dependencies: [
                "AudienceModel", "AudienceSupport",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Config"),
        .target(
            name: "AudienceInbox",
            dependencies: [
                "AudienceModel", "AudienceSupport", "AudienceReading", "AudiencePlanning", "AudienceLedger", "AudienceConfig",
                "CFileBirth", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Inbox", swiftSettings: optimised),
        .target(
            name: "AudienceSending",
            dependencies: [
                "AudienceModel", "AudienceSupport", "AudienceLedger", "AudienceTikTok",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Sending", swiftSettings: optimised),
        .target(
            name: "AudienceDaemon",
            dependencies: [
                "AudienceModel", "AudienceSupport", "AudienceReading", "AudienceLedger", "AudienceTikTok", "AudienceConfig",
                "AudienceInbox", "AudienceSending", "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/Daemon"),
        .executableTarget(
            name: "tiktok-audience-sync",
            dependencies: [
                "AudienceModel", "AudienceSupport", "AudienceReading", "AudiencePlanning", "AudienceLedger", "AudienceTikTok",
                "AudienceConfig", "AudienceInbox", "AudienceSending", "AudienceDaemon", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
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
            // Parses 10,000-user request bodies: optimised in debug builds too, like the product's parts.
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
            dependencies: allParts + [
                "TikTokEmulator", "TestFixtures", "CSQLite",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: allParts + [
                "TikTokEmulator", "TestFixtures",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ]
)
