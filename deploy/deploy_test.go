package deploy

import (
	"cmp"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/daemon"
	"github.com/covsync/covsync/internal/httpapi"
	"github.com/covsync/covsync/sync/schedule"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docs decodes every YAML document of a file.
func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(read(t, path)))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
}

// dig walks nested maps and lists ("spec", "template", 0, …).
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: not a map", path)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: not a list of %d", path, k+1)
			}
			v = l[k]
		}
	}
	return v
}

func TestTheSystemdUnitKeepsItsHardening(t *testing.T) {
	unit := read(t, "systemd/covsync.service")
	for _, want := range []string{
		"Type=notify", "WatchdogSec=", "DynamicUser=yes", "LoadCredential=config.yaml:",
		"ExecStart=/usr/local/bin/covsync serve --config ${CREDENTIALS_DIRECTORY}/config.yaml",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
		"\nCapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
		"SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("covsync.service lacks %q", want)
		}
	}
}

func TestTheDockerfileBuildsAStaticNonRootImageThatChecksItself(t *testing.T) {
	df := read(t, "Dockerfile")
	for _, want := range []string{
		"AS build", "CGO_ENABLED=0", "FROM gcr.io/distroless/static", "USER 65532:65532",
		`HEALTHCHECK`, `"/usr/local/bin/covsync", "healthcheck"`, `ENTRYPOINT ["/usr/local/bin/covsync"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// setTokens sets every environment variable the shipped configs name.
func setTokens(t *testing.T) {
	t.Setenv("COVSYNC_DATABASE_URL", "postgres://covsync_daemon@db:5432/covsync")
	for _, v := range []string{"JIRA_TOKEN", "ADO_PAT", "CONFLUENCE_TOKEN"} {
		t.Setenv(v, "token-of-"+v)
	}
}

func TestTheKubernetesDeploymentRunsTwoProbedLimitedReplicasOnTheSecret(t *testing.T) {
	setTokens(t)
	var deploy, cm, secret map[string]any
	for _, f := range []string{"k8s/deployment.yaml", "k8s/configmap.yaml", "k8s/secret.example.yaml"} {
		for _, d := range docs(t, f) {
			switch d["kind"] {
			case "Deployment":
				deploy = d
			case "ConfigMap":
				cm = d
			case "Secret":
				secret = d
			}
		}
	}
	if n := dig(t, deploy, "spec", "replicas"); n != 2 {
		t.Errorf("replicas = %v, want 2", n)
	}
	c := dig(t, deploy, "spec", "template", "spec", "containers", 0)
	if p := dig(t, c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe on %v", p)
	}
	if p := dig(t, c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe on %v", p)
	}
	if dig(t, c, "resources", "limits", "memory") == nil {
		t.Error("no memory limit")
	}
	// Every secret the pod reads exists in the example Secret.
	keys := dig(t, secret, "stringData").(map[string]any)
	for _, e := range dig(t, c, "env").([]any) {
		ref := dig(t, e, "valueFrom", "secretKeyRef")
		if ref == nil {
			continue
		}
		if k := dig(t, ref, "key").(string); keys[k] == nil {
			t.Errorf("env %v reads secret key %q, which secret.example.yaml lacks", dig(t, e, "name"), k)
		}
	}
	// The ConfigMap's config loads, and listens where the probes and the Service look.
	cfg, err := config.LoadBytes("configmap.yaml", []byte(dig(t, cm, "data", "config.yaml").(string)))
	if err != nil {
		t.Fatalf("the ConfigMap's config does not load: %v", err)
	}
	if cfg.HTTP.Listen != "0.0.0.0:9464" || dig(t, c, "ports", 0, "containerPort") != 9464 {
		t.Errorf("listen %s, container port %v", cfg.HTTP.Listen, dig(t, c, "ports", 0, "containerPort"))
	}
	if cfg.Database.AutoMigrate {
		t.Error("the daemon's role cannot migrate (grants.sql); auto_migrate must be off")
	}
	// The Ingress exposes reports only, to the Service's port, over TLS.
	ing := docs(t, "k8s/ingress.yaml")[0]
	if dig(t, ing, "spec", "tls", 0, "secretName") == nil {
		t.Error("the Ingress terminates no TLS")
	}
	for i, p := range dig(t, ing, "spec", "rules", 0, "http", "paths").([]any) {
		if path := dig(t, p, "path"); path != "/v1/projects/" {
			t.Errorf("the Ingress routes %v (path %d): only /v1/projects/ belongs outside the cluster", path, i)
		}
		if dig(t, p, "backend", "service", "name") != "covsync" || dig(t, p, "backend", "service", "port", "name") != "http" {
			t.Errorf("the Ingress path %d does not lead to the covsync Service's http port", i)
		}
	}
	if !strings.Contains(read(t, "k8s/kustomization.yaml"), "ingress.yaml") {
		t.Error("kustomization.yaml leaves the Ingress out")
	}
}

func TestTheComposeConfigLoadsWithItsSecrets(t *testing.T) {
	setTokens(t)
	// Compose mounts the secrets under /run/secrets; stand them up in a temp dir with the mode covsync wants.
	dir := t.TempDir()
	for _, s := range []string{"jira_token", "confluence_token"} {
		if err := os.WriteFile(filepath.Join(dir, s), []byte("token"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	text := strings.ReplaceAll(read(t, "compose/covsync.yaml"), "/run/secrets/", dir+"/")
	if _, err := config.LoadBytes("compose/covsync.yaml", []byte(text)); err != nil {
		t.Fatalf("compose config: %v", err)
	}
	compose := docs(t, "compose.yaml")[0]
	svc := dig(t, compose, "services", "covsync")
	if ports := dig(t, svc, "ports", 0).(string); !strings.HasPrefix(ports, "127.0.0.1:") {
		t.Errorf("compose publishes the endpoint on %s, want the host's loopback only", ports)
	}
	if !strings.Contains(dig(t, svc, "environment", "COVSYNC_DATABASE_URL").(string), "covsync_daemon") {
		t.Error("the compose daemon does not connect as the least-privilege role")
	}
}

// TestTheSystemdUnitShowsCredentialPathsTheConfigCanRead: the unit's comments tell users what to write in the
// config for each LoadCredential=. covsync reads token_file and url_file literally (no variable expansion),
// so "${CREDENTIALS_DIRECTORY}/jira_token" there is a file that does not exist; the directory systemd gives a
// service's credentials is /run/credentials/<unit>.
func TestTheSystemdUnitShowsCredentialPathsTheConfigCanRead(t *testing.T) {
	unit := read(t, "systemd/covsync.service")
	re := regexp.MustCompile(`(?:token_file|url_file|password_file):\s*([^\s}]+)`)
	refs := re.FindAllStringSubmatch(unit, -1)
	if len(refs) == 0 {
		t.Fatal("covsync.service shows no credential path for the config")
	}
	creds := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^LoadCredential=([^:]+):`).FindAllStringSubmatch(unit, -1) {
		creds[m[1]] = true
	}
	for _, m := range refs {
		name, ok := strings.CutPrefix(m[1], "/run/credentials/covsync.service/")
		if !ok || !creds[name] {
			t.Errorf("the unit tells the config to read %s: not a literal path to one of its LoadCredential= files", m[1])
		}
	}
}

// TestSupervisorsWaitForTheDaemonsWholeStop: after SIGTERM the daemon may take workers.shutdown_timeout for
// running cycles, schedule.StopMargin for the cancelled ones to be recorded, then the endpoint's shutdown. A
// supervisor that kills it sooner leaves cycle jobs "running" (blocking their (project, target) until River's
// rescuer); a readiness probe that gives up before /readyz's own deadline marks a slow-but-up daemon unready.
func TestSupervisorsWaitForTheDaemonsWholeStop(t *testing.T) {
	setTokens(t)
	stop := func(cfg *config.Config) time.Duration {
		return cmp.Or(cfg.Workers.ShutdownTimeout, 30*time.Second) + schedule.StopMargin + daemon.HTTPShutdownTimeout
	}

	var deploy, cm map[string]any
	for _, f := range []string{"k8s/deployment.yaml", "k8s/configmap.yaml"} {
		for _, d := range docs(t, f) {
			switch d["kind"] {
			case "Deployment":
				deploy = d
			case "ConfigMap":
				cm = d
			}
		}
	}
	k8sCfg, err := config.LoadBytes("configmap.yaml", []byte(dig(t, cm, "data", "config.yaml").(string)))
	if err != nil {
		t.Fatal(err)
	}
	grace, _ := dig(t, deploy, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if got, need := time.Duration(grace)*time.Second, stop(k8sCfg); got <= need {
		t.Errorf("terminationGracePeriodSeconds %v; the daemon may take %v to stop", got, need)
	}
	probe, _ := dig(t, deploy, "spec", "template", "spec", "containers", 0, "readinessProbe", "timeoutSeconds").(int)
	if got := time.Duration(probe) * time.Second; got <= httpapi.ReadyTimeout {
		t.Errorf("readinessProbe.timeoutSeconds %v (Kubernetes' default is 1 s); /readyz answers within %v", got, httpapi.ReadyTimeout)
	}

	compose := docs(t, "compose.yaml")[0]
	graceStr, _ := dig(t, compose, "services", "covsync", "stop_grace_period").(string)
	composeGrace, err := time.ParseDuration(graceStr)
	if err != nil {
		t.Fatalf("compose stop_grace_period %q: %v", graceStr, err)
	}
	// Its config's shutdown_timeout, read without its secrets (TestTheComposeConfigLoadsWithItsSecrets loads it).
	var composeCfg config.Config
	if err := yaml.Unmarshal([]byte(read(t, "compose/covsync.yaml")), &composeCfg); err != nil {
		t.Fatal(err)
	}
	if need := stop(&composeCfg); composeGrace <= need {
		t.Errorf("compose stop_grace_period %v; the daemon may take %v to stop", composeGrace, need)
	}

	unit := read(t, "systemd/covsync.service")
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\S+)`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("covsync.service sets no TimeoutStopSec (systemd's default is 90 s, but say it)")
	}
	unitStop, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if need := 30*time.Second + schedule.StopMargin + daemon.HTTPShutdownTimeout; unitStop <= need {
		t.Errorf("TimeoutStopSec %v; the daemon may take %v to stop with the default shutdown_timeout", unitStop, need)
	}
}

// Every database URL of the Kubernetes example verifies the server's certificate and name.
func TestKubernetesDatabaseURLsVerifyTheServer(t *testing.T) {
	b, err := os.ReadFile("k8s/secret.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	urls := regexp.MustCompile(`postgres://[^\s']+`).FindAllString(string(b), -1)
	if len(urls) == 0 {
		t.Fatal("no database URL in k8s/secret.example.yaml")
	}
	for _, u := range urls {
		if !strings.Contains(u, "sslmode=verify-full") {
			t.Errorf("%s: want sslmode=verify-full", u)
		}
	}
}
