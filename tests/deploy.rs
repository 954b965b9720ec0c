//! The team deployment files say what the server needs: `deploy/Dockerfile` (multi-stage, a
//! non-root user, a health check the binary answers itself) and `deploy/kubernetes/` (probes on
//! /healthz with an allowed Host, resource limits, the secrets from a Secret, time to drain on
//! SIGTERM). The probe and the health check are then run against the server started with the
//! manifest's own arguments and settings. The image itself is built in CI only where a container
//! engine runs (.ci/run says which).

mod common;

use serde_json::Value;
use std::path::Path;

fn manifests() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/leadmagic-mcp.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            let v: serde_norway::Value = serde::Deserialize::deserialize(doc).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .collect()
}

fn kind<'a>(docs: &'a [Value], k: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == k)
        .unwrap_or_else(|| panic!("no {k}"))
}

#[test]
fn the_kubernetes_manifests_probe_limit_and_keep_secrets_in_a_secret() {
    let docs = manifests();
    let deployment = kind(&docs, "Deployment");
    let spec = &deployment["spec"]["template"]["spec"];
    assert!(
        deployment["spec"]["replicas"].as_u64().unwrap() >= 2,
        "stateless: several replicas"
    );
    assert!(spec["securityContext"]["runAsNonRoot"] == true);
    let c = &spec["containers"][0];
    let pause = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("a preStop pause while the Service forgets the pod");
    assert!(pause >= 1, "{pause}");
    assert!(
        spec["terminationGracePeriodSeconds"].as_u64().unwrap() > pause + 30,
        "longer than the preStop pause and the server's 30 s drain"
    );
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args, ["serve", "--http", "0.0.0.0:8787"]);
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz", "{probe}");
        assert_eq!(
            get["httpHeaders"][0],
            serde_json::json!({"name": "Host", "value": "localhost"})
        );
    }
    for limit in ["cpu", "memory"] {
        assert!(c["resources"]["limits"][limit].is_string(), "{limit} limit");
    }
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"], true,
        "the server writes nothing"
    );
    let env = c["env"].as_array().unwrap();
    let secret = kind(&docs, "Secret");
    for var in [
        "LEADMAGIC_API_KEY",
        "LEADMAGIC_MCP_TOKEN",
        "LEADMAGIC_CONFIRM_SECRET",
    ] {
        let e = env
            .iter()
            .find(|e| e["name"] == var)
            .unwrap_or_else(|| panic!("{var}"));
        assert_eq!(
            e["valueFrom"]["secretKeyRef"]["name"], secret["metadata"]["name"],
            "{var}"
        );
        assert!(e.get("value").is_none(), "{var} comes from the Secret only");
        assert!(secret["stringData"][var].is_string(), "{var} in the Secret");
    }
    let hosts = env
        .iter()
        .find(|e| e["name"] == "LEADMAGIC_ALLOWED_HOSTS")
        .unwrap();
    assert!(
        hosts["value"]
            .as_str()
            .unwrap()
            .split(',')
            .any(|h| h == "localhost"),
        "the probes' Host"
    );
    let service = kind(&docs, "Service");
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_and_checks_its_health() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/Dockerfile")).unwrap();
    let from: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        from[0].contains(&format!("rust:{msrv}")),
        "built with the stated minimum Rust: {from:?}"
    );
    let user = text
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user");
    assert!(uid > 0, "not root");
    assert!(
        text.contains("HEALTHCHECK") && text.contains("\"health\""),
        "the binary checks itself"
    );
    assert!(text.contains("EXPOSE 8787"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_and_the_health_check_pass_against_the_manifests_settings() {
    let docs = manifests();
    let c = &kind(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    let hosts = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "LEADMAGIC_ALLOWED_HOSTS")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    // The manifest's arguments, on a loopback port; a token, as the Secret gives one.
    let server = common::HttpServer::start_argv(
        &[
            ("LEADMAGIC_ALLOWED_HOSTS", hosts.as_str()),
            (
                "LEADMAGIC_MCP_TOKEN",
                "a-token-of-the-team-0123456789abcdef",
            ),
        ],
        &["--sandbox", "serve", "--http", "127.0.0.1:0"],
    )
    .await;
    let client = common::http_client();
    let probe = client
        .get(format!("{}/healthz", server.base))
        .header("host", "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(
        probe.status(),
        200,
        "the kubelet's probe (Host: localhost, no token)"
    );
    let out = std::process::Command::new(common::binary())
        .args(["health", "--url", &format!("{}/healthz", server.base)])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let down = std::process::Command::new(common::binary())
        .args(["health", "--url", "http://127.0.0.1:1/healthz"])
        .env_clear()
        .output()
        .unwrap();
    assert!(!down.status.success(), "nothing listening: unhealthy");
}
