// swift-tools-version:6.1
// iommud — watches IOMMU / DMA-remapping faults on Linux.
// Layout and module rules: ARCHITECTURE.md. IOMMUCore is pure (no I/O); IOMMUDaemon is the
// I/O shell; `iommud` only parses arguments.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .unsafeFlags(["-warnings-as-errors"]),
]

let package = Package(
    name: "iommud",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "iommud", targets: ["iommud"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // [http] web_config: TLS (BoringSSL inside). iommud.toml and the exporter-toolkit YAML file
        // are read by ConfigSyntax's TOMLSubset and YAMLSubset: the TOML and YAML libraries bring
        // Foundation, whose start-up alone costs megabytes of idle RSS.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // A few lines of C for what Swift's Glibc module does not export (eventfd, inotify, klogctl,
        // malloc) and for the calls that take C structs through pointers (sockaddr_un, dirent,
        // iovec for sd_journal_sendv, crypt_rn's scratch space): Swift code stays without them.
        .target(
            name: "CLinux",
            linkerSettings: [.linkedLibrary("systemd"), .linkedLibrary("crypt")]
        ),
        // libsystemd (journal, sd_notify, sd_listen_fds) through pkg-config.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // zlib and libzstd for `iommud replay` of rotated logs (kern.log.2.gz, messages-….zst): the
        // replay input only, streaming.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // Pure: parsing, classification, counting, rendering. No file descriptors here.
        .target(
            name: "IOMMUCore",
            swiftSettings: strict
        ),
        // Pure: the syntaxes the config files and the command line are written in — the TOML of
        // iommud.toml, the YAML of the web config, durations, `iommud log` times. Bounded (depth,
        // size) and total: text in, a value or an error naming the line out.
        .target(
            name: "ConfigSyntax",
            swiftSettings: strict
        ),
        // The I/O shell: sources, sinks, checkpoint, configuration, the daemon's services.
        .target(
            name: "IOMMUDaemon",
            dependencies: [
                "IOMMUCore", "ConfigSyntax", "CLinux", "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                "CZlib", "CZstd",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "iommud",
            dependencies: [
                "IOMMUDaemon", "IOMMUCore", "ConfigSyntax", "CLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The memory and scrape baseline of `make bench` (bench/run.sh): the smallest NIO HTTP/1 server,
        // with the daemon's swift-nio and built the same way. Not shipped.
        .executableTarget(
            name: "nio-bare",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "bench/nio-bare",
            swiftSettings: strict
        ),
        .testTarget(
            name: "IOMMUCoreTests",
            dependencies: ["IOMMUCore"],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ConfigSyntaxTests",
            dependencies: ["ConfigSyntax"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IOMMUDaemonTests",
            dependencies: [
                "IOMMUDaemon", "IOMMUCore", "ConfigSyntax",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["IOMMUCore", "IOMMUDaemon", "CLinux"],
            swiftSettings: strict
        ),
    ]
)
