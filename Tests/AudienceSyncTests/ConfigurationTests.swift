import Foundation
import Testing
@testable import AudienceConfig
import AudienceConfig

@Suite("Configuration")
struct ConfigurationTests {
    let minimal = """
        inbox: /srv/in
        state_directory: /var/lib/x
        tiktok:
          advertiser_id: "7000000000000000001"
        """

    @Test("the documented keys are read, with their defaults")
    func keys() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("c.yaml", minimal + """

              base_url: http://127.0.0.1:9/open_api/v1.3
              requests_per_second: 7
              max_in_flight: 2
              maid_type: aaid
            settle_seconds: 3
            partners:
              acme:
                segments: ["123", "456"]
              beta:
                segments: [789]
              acme.eu:
                segments: ["321"]
            """)
        let configuration = try await ConfigurationLoader.load(path: path, environment: [:])
        #expect(configuration.inbox == "/srv/in")
        #expect(configuration.tiktok.baseURL == "http://127.0.0.1:9/open_api/v1.3")
        #expect(configuration.tiktok.requestsPerSecond == 7)
        #expect(configuration.tiktok.maxInFlight == 2)
        #expect(configuration.identifiers.maidType == .aaid, "tiktok.maid_type is the older spelling of identifiers.maid_type")
        #expect(configuration.settleSeconds == 3)
        #expect(configuration.rescanSeconds == 60)
        #expect(configuration.partners?["acme"]?.segments == ["123", "456"])
        #expect(configuration.partners?["beta"]?.segments == ["789"])
        #expect(configuration.partners?["acme.eu"]?.segments == ["321"], "a partner folder with a dot in its name")
    }

    @Test("identifier rules default to TikTok's guidance; each is a setting, and a partner may set its own MAID type")
    func identifierRules() async throws {
        let directory = try TemporaryDirectory()
        let defaults = try await ConfigurationLoader.load(path: try directory.write("d.yaml", minimal), environment: [:])
        #expect(defaults.identifiers.emailRemovesPlusTag)
        #expect(!defaults.identifiers.emailRemovesDots)
        #expect(defaults.identifiers.phoneForm == .digits)
        #expect(defaults.identifiers.maidType == nil, "no silent MAID type")
        let path = try directory.write("c.yaml", minimal + """

            identifiers:
              email_remove_plus_tag: false
              email_remove_dots: true
              phone_format: e164
              maid_type: idfa
            partners:
              acme:
                segments: ["1"]
                maid_type: aaid
              globex:
                segments: ["2"]
            """)
        let configuration = try await ConfigurationLoader.load(path: path, environment: [:])
        #expect(!configuration.identifiers.emailRemovesPlusTag)
        #expect(configuration.identifiers.emailRemovesDots)
        #expect(configuration.identifiers.phoneForm == .e164)
        #expect(configuration.identifierRules(forPartner: "acme").maidType == .aaid)
        #expect(configuration.identifierRules(forPartner: "globex").maidType == .idfa)
        #expect(configuration.identifierRules(forPartner: nil).maidType == .idfa)
        #expect(configuration.partner(containing: "/srv/in/acme/x.csv") == "acme")
        #expect(configuration.partner(containing: "/srv/in/x.csv") == nil)
    }

    @Test("every key can be overridden from the environment")
    func environmentOverrides() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("c.yaml", minimal)
        let configuration = try await ConfigurationLoader.load(path: path, environment: [
            "TIKTOK_AUDIENCE_SYNC_TIKTOK_BASE_URL": "http://127.0.0.1:1/x",
            "TIKTOK_AUDIENCE_SYNC_INBOX": "/elsewhere",
            "TIKTOK_AUDIENCE_SYNC_TIKTOK_MAX_IN_FLIGHT": "9",
        ])
        #expect(configuration.tiktok.baseURL == "http://127.0.0.1:1/x")
        #expect(configuration.inbox == "/elsewhere")
        #expect(configuration.tiktok.maxInFlight == 9)
    }

    @Test("a missing or malformed key is an error naming the key and the file", arguments: [
        ("inbox: /a\ntiktok:\n  advertiser_id: \"1\"\n", "state_directory"),
        ("inbox: /a\nstate_directory: /b\n", "tiktok.advertiser_id"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: abc\n", "tiktok.advertiser_id"),
        ("inbox: /a\nstate_directory: /b\nsettle_seconds: soon\ntiktok:\n  advertiser_id: \"1\"\n", "settle_seconds"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\n  max_in_flight: 0\n", "tiktok.max_in_flight"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\n  maid_type: gaid2\n", "tiktok.maid_type"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\n  access_token: abc\n", "tiktok.access_token"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\nidentifiers:\n  phone_format: international\n", "identifiers.phone_format"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\nidentifiers: e164\n", "identifiers"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\nidentifiers:\n  email_remove_plus_tag: maybe\n", "identifiers.email_remove_plus_tag"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\n  maid_type: idfa\nidentifiers:\n  maid_type: aaid\n", "identifiers.maid_type"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\npartners:\n  acme:\n    segments: [\"1\"]\n    maid_type: win\n", "partners.acme.maid_type"),
        ("inbox: /a\nstate_directory: /b\ntiktok:\n  advertiser_id: \"1\"\npartners:\n  acme:\n    segments: [\"x1\"]\n", "partners.acme.segments"),
    ])
    func badKeys(yaml: String, key: String) async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("bad.yaml", yaml)
        do {
            _ = try await ConfigurationLoader.load(path: path, environment: [:])
            Issue.record("accepted a configuration without a valid \(key)")
        } catch let error as ConfigurationError {
            #expect(error.key == key)
            #expect(error.description.contains(path))
        }
    }

    @Test("the token comes from the environment, then the systemd credential, then the token file")
    func tokenSources() async throws {
        let directory = try TemporaryDirectory()
        let tokenFile = try directory.write("token", "from-file\n")
        try directory.write("creds/tiktok-access-token", "from-credential")
        var configuration = Configuration(inbox: "/i", stateDirectory: "/s", tiktok: .init(advertiserID: "1"))
        configuration.tiktok.accessTokenFile = tokenFile
        let environment = ["TIKTOK_ACCESS_TOKEN": "from-env", "CREDENTIALS_DIRECTORY": directory.path + "/creds"]
        #expect(try TokenSource.resolve(configuration: configuration, environment: environment)?.origin.contains("environment") == true)
        #expect(try TokenSource.resolve(configuration: configuration, environment: ["CREDENTIALS_DIRECTORY": directory.path + "/creds"])?.origin.contains("credential") == true)
        let fromFile = try TokenSource.resolve(configuration: configuration, environment: [:])
        #expect(fromFile?.origin.contains("file") == true)
        #expect("\(fromFile?.token as Any)".contains("from-file") == false, "a token never prints itself")
        configuration.tiktok.accessTokenFile = directory.path + "/missing"
        #expect(throws: ConfigurationError.self) { try TokenSource.resolve(configuration: configuration, environment: [:]) }
    }
}

@Suite("Configuration: unknown keys")
struct UnknownConfigurationKeyTests {
    @Test("a misspelt or unknown key is refused, naming it and the nearest known key", arguments: [
        ("setle_seconds: 5\n", "setle_seconds is not a configuration key; did you mean settle_seconds?"),
        ("partner:\n  acme:\n    segments: [\"1\"]\n", "partner is not a configuration key; did you mean partners?"),
        ("max_snapshot_removal_precent: 10\n", "did you mean max_snapshot_removal_percent?"),
        ("  base_ur: http://x\n", "tiktok.base_ur is not a configuration key; did you mean tiktok.base_url?"),
        ("partners:\n  acme:\n    segment: [\"1\"]\n", "partners.acme.segment is not a configuration key; did you mean partners.acme.segments?"),
        ("colour: blue\n", "colour is not a configuration key; see etc/config.yaml"),
        ("identifiers:\n  phone_fromat: e164\n", "identifiers.phone_fromat is not a configuration key; did you mean identifiers.phone_format?"),
        ("partners:\n  acme:\n    segments: [\"1\"]\n    maidtype: aaid\n", "did you mean partners.acme.maid_type?"),
    ])
    func refused(extra: String, message: String) async throws {
        let directory = try TemporaryDirectory()
        // A line indented under `tiktok:` belongs to it (the minimal file ends inside `tiktok:`).
        let text = "inbox: /srv/in\nstate_directory: /var/lib/x\ntiktok:\n  advertiser_id: \"7000000000000000001\"\n" + extra
        let path = try directory.write("c.yaml", text)
        let error = await #expect(throws: ConfigurationError.self) {
            _ = try await ConfigurationLoader.load(path: path, environment: [:])
        }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
        #expect(error?.ending == .configuration)
    }

    @Test("the configuration shipped in etc/ has no unknown key")
    func shipped() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let configuration = try await ConfigurationLoader.load(path: root.path + "/etc/config.yaml", environment: [:])
        #expect(configuration.partners?["acme"] != nil)
    }
}
