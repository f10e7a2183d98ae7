/**
 * The container set-up as an operator gets it: the Dockerfile read as Docker reads it, and docker-compose.yml as
 * `docker-compose config` resolves it (no Docker daemon needed). The compose checks are skipped, with a message,
 * only where no `docker-compose` binary is installed (Debian: `apt-get install -y docker-compose`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SearchAttributeType } from '@temporalio/common';
import { projectSearchAttributes } from '../../shared/search-attributes';
import { DEFAULT_METRICS_ADDRESS, METRICS_ADDRESS_VARIABLE } from '../../worker/metrics';
import { LOG_LEVEL_VARIABLE } from '../../worker/telemetry';

const ROOT = join(__dirname, '..', '..');

/** The worker's environment in the operator contract (README and DESIGN.md); tests and users depend on the names. */
const OPERATOR_CONTRACT = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'AUDIT_TASK_QUEUE',
  'ATLASSIAN_API_BASE_URL',
  'ATLASSIAN_API_KEY',
  'DD_SITE',
  'DD_LOGS_INTAKE_URL',
  'DD_API_KEY',
  'AUDIT_PAYLOAD_KEY',
];
/** Further worker settings the compose file passes: old payload keys (rotation), log level, metrics address, verify's Datadog API access, pace groups. */
const FURTHER_WORKER_SETTINGS = ['AUDIT_PAYLOAD_OLD_KEYS', LOG_LEVEL_VARIABLE, METRICS_ADDRESS_VARIABLE, 'DD_APP_KEY', 'DD_API_BASE_URL', 'AUDIT_PACE_GROUPS'];

describe('Dockerfile', () => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = stages[stages.length - 1]!;
  const build = stages.find((stage) => stage.name === 'build');

  it('is multi-stage on a pinned node 20 bookworm-slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build).toBeDefined();
    expect(runtime).not.toBe(build);
    for (const stage of stages) expect(stage.image).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
  });

  it('builds the workflow bundle in the build stage and runs the worker on it', () => {
    const bundleStep = build!.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('worker/build-workflow-bundle.ts'));
    const bundlePath = /build-workflow-bundle\.ts\s+(\S+)/.exec(bundleStep?.args ?? '')?.[1];
    expect(bundlePath).toBe('lib/workflow-bundle.js');
    expect(argsOf(runtime, 'COPY')).toContainEqual(expect.stringMatching(/^--from=build \/app\/lib\/workflow-bundle\.js /));
    expect(argsOf(runtime, 'ENV').join(' ')).toContain('AUDIT_WORKFLOW_BUNDLE=/app/lib/workflow-bundle.js');
    expect(argsOf(runtime, 'CMD').join(' ')).toContain('worker/main.ts');
  });

  it('copies the product folders and no development-only code (dev/, test/) into either stage', () => {
    for (const stage of stages) {
      const sources = argsOf(stage, 'COPY').flatMap((args) => args.split(/\s+/).filter((word) => !word.startsWith('--')).slice(0, -1));
      expect(sources.filter((source) => /(^|\/)(dev|test|src)(\/|$)/.test(source))).toEqual([]);
    }
    expect(argsOf(runtime, 'COPY')).toEqual(expect.arrayContaining(['--from=build /app/workflows ./workflows', '--from=build /app/activities ./activities']));
  });

  it('installs production dependencies only in the image that runs', () => {
    expect(argsOf(runtime, 'RUN').join('\n')).toMatch(/npm ci --omit=dev/);
  });

  it('gives the unprivileged user one writable place, the dead-letter directory, mounted as a volume by compose', () => {
    expect(argsOf(runtime, 'ENV').join(' ')).toContain('AUDIT_DEAD_LETTER_DIR=/var/lib/atlassian-audit/dead-letters');
    expect(argsOf(runtime, 'RUN').join('\n')).toMatch(/chown node:node \/var\/lib\/atlassian-audit\/dead-letters/);
  });

  it('runs the worker as a non-root user', () => {
    const user = argsOf(runtime, 'USER').at(-1);
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('keeps .env (API keys) and node_modules out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(['.env', 'node_modules']));
  });
});

const compose = findDockerCompose();
if (!compose) {
  console.warn('docker-compose is not installed: the docker-compose.yml checks are SKIPPED (apt-get install -y docker-compose)');
}
const describeWithCompose = compose ? describe : describe.skip;

describeWithCompose('docker-compose.yml, as `docker-compose config` resolves it', () => {
  let config: ComposeConfig;

  beforeAll(() => {
    // A throwaway env file instead of the project's `.env`, which may hold real keys.
    const dir = mkdtempSync(join(tmpdir(), 'compose-env-'));
    try {
      writeFileSync(join(dir, 'test.env'), 'DD_SITE=datadoghq.eu\nTEMPORAL_NAMESPACE=audit\n');
      config = resolveComposeConfig(compose!, join(dir, 'test.env'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has PostgreSQL, its schema set-up, Temporal, the namespace and search-attribute set-up, the UI and the worker', () => {
    expect(Object.keys(config.services).sort()).toEqual(
      ['postgres', 'temporal', 'temporal-schema', 'temporal-setup', 'ui', 'worker'].sort()
    );
  });

  it('pins every image to a version, Temporal server and admin-tools to the same one', () => {
    for (const [name, service] of Object.entries(config.services)) {
      if (service.build) continue;
      expect([name, service.image]).toEqual([name, expect.stringMatching(/^[\w./-]+:\d[\w.-]*$/)]);
    }
    const version = (name: string) => config.services[name]!.image!.split(':')[1];
    expect(version('temporal-schema')).toBe(version('temporal'));
    expect(version('temporal-setup')).toBe(version('temporal'));
  });

  it('starts each service once what it needs is ready', () => {
    const dependsOn = (name: string) => config.services[name]!.depends_on;
    expect(dependsOn('temporal-schema')).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(dependsOn('temporal')).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(dependsOn('temporal-setup')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(dependsOn('ui')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(dependsOn('worker')).toEqual({ 'temporal-setup': { condition: 'service_completed_successfully' } });
    for (const service of Object.values(config.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        if (condition === 'service_healthy') expect([dependency, config.services[dependency]?.healthcheck]).toEqual([dependency, expect.anything()]);
      }
    }
    expect(config.services.worker!.healthcheck).toBeDefined();
  });

  it('passes the operator contract to the worker, and nothing else', () => {
    const environment = config.services.worker!.environment ?? {};
    expect(Object.keys(environment).sort()).toEqual([...OPERATOR_CONTRACT, ...FURTHER_WORKER_SETTINGS].sort());
    expect(environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    // Values come from the env file; unset ones stay blank, which the worker reads as "use the default".
    expect(environment.DD_SITE).toBe('datadoghq.eu');
    expect(environment.TEMPORAL_NAMESPACE).toBe('audit');
    expect(environment.DD_API_KEY).toBe('');
    expect(config.services['temporal-setup']!.environment?.TEMPORAL_NAMESPACE).toBe('audit');
  });

  it('publishes Temporal on 7233, the Web UI on 8233 and the worker metrics on 9464, on localhost only', () => {
    expect(portsOf('temporal')).toEqual([{ hostIp: '127.0.0.1', published: 7233, target: 7233 }]);
    expect(portsOf('ui')).toEqual([{ hostIp: '127.0.0.1', published: 8233, target: 8080 }]);
    const metricsPort = Number(config.services.worker!.environment?.[METRICS_ADDRESS_VARIABLE]?.split(':').at(-1));
    expect(metricsPort).toBe(Number(DEFAULT_METRICS_ADDRESS.split(':')[1]));
    expect(portsOf('worker')).toEqual([{ hostIp: '127.0.0.1', published: metricsPort, target: metricsPort }]);
  });

  it('registers every search attribute the workflows upsert, as Keyword', () => {
    const script = readFileSync(join(ROOT, 'docker/temporal/create-namespace-and-search-attributes.sh'), 'utf8');
    const names = /for attribute in ([^;]+); do/.exec(script)?.[1]?.trim().split(/\s+/) ?? [];
    expect(names.sort()).toEqual(projectSearchAttributes.map((key) => key.name).sort());
    expect(projectSearchAttributes.every((key) => key.type === SearchAttributeType.KEYWORD)).toBe(true);
    expect(script).toMatch(/--type Keyword/);
  });

  it("keeps the worker's dead letters on a named volume", () => {
    const volumes = (config.services['worker']!.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${(v as { target?: string }).target}`));
    expect(volumes.some((v) => /^([\w-]+_)?dead-letters:\/var\/lib\/atlassian-audit\/dead-letters/.test(v))).toBe(true);
  });

  it('mounts only files that exist in the repository', () => {
    for (const service of Object.values(config.services)) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source;
        if (source.startsWith('/')) expect([source, existsSync(source)]).toEqual([source, true]);
      }
    }
  });

  function portsOf(name: string): PublishedPort[] {
    return (config.services[name]!.ports ?? []).map(toPublishedPort);
  }
});

interface DockerfileStage {
  image: string;
  name?: string;
  instructions: Array<{ keyword: string; args: string }>;
}

/** Instructions grouped by stage, with `ARG` defaults substituted into `FROM` and line continuations joined. */
function parseDockerfile(text: string): DockerfileStage[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const args = new Map<string, string>();
  const stages: DockerfileStage[] = [];
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest.replace(/\s+/g, ' ') };
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = instruction.args.split('=');
      args.set(name!, value);
    } else if (instruction.keyword === 'FROM') {
      const [image = '', , name] = instruction.args.replace(/\$\{(\w+)\}/g, (_, arg: string) => args.get(arg) ?? '').split(' ');
      stages.push({ image, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

function argsOf(stage: DockerfileStage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  ports?: Array<string | { target: number; published: number | string; host_ip?: string }>;
  volumes?: Array<string | { source: string }>;
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
}

interface PublishedPort {
  hostIp?: string;
  published: number;
  target: number;
}

interface DockerCompose {
  version: string;
  /** v1 is a Python program: its own interpreter has the YAML module it depends on. */
  python?: string;
}

function findDockerCompose(): DockerCompose | undefined {
  const found = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  if (found.status !== 0) return undefined;
  const path = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).stdout.trim();
  const shebang = /^#!\s*(\S*python\S*)/.exec(readFileSync(path, 'utf8').slice(0, 200))?.[1];
  return { version: found.stdout.trim(), ...(shebang ? { python: shebang } : {}) };
}

/**
 * Compose v2 prints the resolved file as JSON (`config --format json`). Debian bookworm's docker-compose is v1
 * (1.29), which prints YAML only; its own dependency python3-yaml turns that into JSON, so the test needs no YAML
 * package of its own.
 */
function resolveComposeConfig(compose: DockerCompose, envFile: string): ComposeConfig {
  const v2 = /^v?[2-9]\./.test(compose.version);
  const resolved = spawnSync(
    'docker-compose',
    ['--env-file', envFile, '-f', join(ROOT, 'docker-compose.yml'), 'config', ...(v2 ? ['--format', 'json'] : [])],
    // Only PATH and HOME: a developer's exported keys must not be interpolated into the output.
    { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } }
  );
  if (resolved.status !== 0) throw new Error(`docker-compose config failed:\n${resolved.stderr}`);
  if (v2) return JSON.parse(resolved.stdout) as ComposeConfig;
  const converted = spawnSync(
    compose.python ?? 'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: resolved.stdout, encoding: 'utf8' }
  );
  if (converted.status !== 0) throw new Error(`YAML to JSON failed:\n${converted.stderr}`);
  return JSON.parse(converted.stdout) as ComposeConfig;
}

/** v1 prints `127.0.0.1:7233:7233/tcp`, v2 `{ host_ip, published, target }`. */
function toPublishedPort(port: NonNullable<ComposeService['ports']>[number]): PublishedPort {
  if (typeof port !== 'string') {
    return { ...(port.host_ip ? { hostIp: port.host_ip } : {}), published: Number(port.published), target: port.target };
  }
  const parts = port.replace(/\/\w+$/, '').split(':');
  const [target, published, hostIp] = parts.reverse();
  return { ...(hostIp ? { hostIp } : {}), published: Number(published), target: Number(target) };
}
