import { plainToInstance, Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
  validateSync,
  ValidationError,
} from 'class-validator';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { TENANT_ID_PATTERN } from '../core/tenant-id';
import { ISOLATION_MODELS, IsolationModel, TenantsDefinition, UnitPrices } from './tenancy-options';
import { errorMessage } from '../core/error-message';

class PoolSection {
  @IsOptional() @IsInt() @Min(1) @Max(100) max?: number;
}

class LimitsSection {
  @IsOptional() @IsInt() @Min(1) @Max(3_600_000) statementMillis?: number;
  @IsOptional() @IsInt() @Min(1) @Max(3_600_000) lockMillis?: number;
  @IsOptional() @IsInt() @Min(1) @Max(3_600_000) idleInTransactionMillis?: number;
}

class RateSection {
  @IsNumber() @Min(0.001) @Max(1_000_000) perSecond!: number;
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000) burst?: number;
}

class PricesSection {
  @IsOptional()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code of three capital letters, such as USD' })
  currency?: string;
  @IsOptional() @IsNumber() @Min(0) @Max(1_000_000) computePerMillionRequests?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(1_000_000) databasePerHour?: number;
  @IsOptional() @IsNumber() @Min(0) @Max(1_000_000) storagePerGbMonth?: number;
}

/** The prices given, without the keys left out (so they do not hide the defaults). */
function givenPrices(p: PricesSection): Partial<UnitPrices> {
  return Object.fromEntries(Object.entries({ ...p }).filter(([, v]) => v !== undefined));
}

class TierSection {
  @IsIn(ISOLATION_MODELS) strategy!: IsolationModel;
  @IsOptional() @ValidateNested() @Type(() => PoolSection) pool?: PoolSection;
  @IsOptional() @ValidateNested() @Type(() => LimitsSection) limits?: LimitsSection;
  @IsOptional() @IsInt() @Min(1) @Max(100_000) concurrency?: number;
  @IsOptional() @ValidateNested() @Type(() => RateSection) rate?: RateSection;
  @IsOptional() @IsBoolean() throttleWhenNoisy?: boolean;
  @IsOptional() @ValidateNested() @Type(() => PricesSection) prices?: PricesSection;
}

class TenantSection {
  @Matches(TENANT_ID_PATTERN, {
    message: 'id must be 1 to 40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit',
  })
  id!: string;
  @IsString() @IsNotEmpty() @MaxLength(200) name!: string;
  @IsOptional() @IsString() tier?: string;
  @IsOptional() @IsIn(ISOLATION_MODELS) strategy?: IsolationModel;
  @IsOptional() @IsString() @IsNotEmpty() server?: string;
}

class TenantsFileSection {
  @IsObject() tiers!: Record<string, unknown>;
  @IsArray() @ValidateNested({ each: true }) @Type(() => TenantSection) tenants!: TenantSection[];
  @IsOptional() @ValidateNested() @Type(() => PricesSection) prices?: PricesSection;
}

function flatten(errors: ValidationError[], path: string, label: (p: string) => string): string[] {
  return errors.flatMap((e) => {
    const here = path ? `${path}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => `${label(here)}: ${m}`);
    return [...own, ...flatten(e.children ?? [], here, label)];
  });
}

/**
 * Validates a parsed tenants file. Every problem names its key and, where there is one, the tenant,
 * so `tenants.2.tier: unknown tier "gold" (tenant "gadget")` points straight at the line to fix.
 */
/**
 * How the app names, in its own messages, where the tenancy configuration comes from: the library
 * knows only its options, the app knows its environment variables.
 */
export interface ConfigNames {
  /** What sets the tenants file's path, e.g. `TENANCY_CONFIG`. Default: none (the message names `loadTenantsFile`). */
  tenantsFile?: string;
  /** Where extra servers come from, e.g. `TENANT_DB_SERVERS`. Default `servers` (the module option). */
  servers?: string;
  /** Where the default server comes from, e.g. `DATABASE_URL`. Default `databaseUrl` (the module option). */
  defaultServer?: string;
}

/**
 * Validates a parsed tenants document. `file` names it in messages (default `tenants file`);
 * `servers`: the server names a tenant may name (default `['default']`).
 * @throws TenancyConfigError naming every problem, each with its key and tenant.
 */
export function validateTenantsDefinition(
  raw: unknown,
  file = 'tenants file',
  servers: string[] = ['default'],
  names: ConfigNames = {},
): TenantsDefinition {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TenancyConfigError(file, ['the file must hold a mapping with keys "tiers" and "tenants"']);
  }
  const doc = plainToInstance(TenantsFileSection, raw);
  const tenantLabel = (key: string) => {
    const m = /^tenants\.(\d+)/.exec(key);
    const id = m ? (raw as any).tenants?.[Number(m[1])]?.id : undefined;
    return typeof id === 'string' ? `${key} (tenant "${id}")` : key;
  };
  const problems = flatten(validateSync(doc, { whitelist: true, forbidNonWhitelisted: true }), '', tenantLabel);
  const tiers: TenantsDefinition['tiers'] = {};
  if (doc.tiers && typeof doc.tiers === 'object') {
    for (const [name, value] of Object.entries(doc.tiers)) {
      const tier = plainToInstance(TierSection, value ?? {});
      const errs = flatten(validateSync(tier, { whitelist: true, forbidNonWhitelisted: true }), `tiers.${name}`, (k) => k);
      problems.push(...errs);
      if (!errs.length) {
        tiers[name] = { strategy: tier.strategy, pool: tier.pool ? { max: tier.pool.max } : undefined };
        if (tier.limits) tiers[name].limits = { ...tier.limits };
        if (tier.concurrency !== undefined) tiers[name].concurrency = tier.concurrency;
        if (tier.rate)
          tiers[name].rate = { perSecond: tier.rate.perSecond, ...(tier.rate.burst !== undefined ? { burst: tier.rate.burst } : {}) };
        if (tier.prices) tiers[name].prices = givenPrices(tier.prices);
        if (tier.throttleWhenNoisy !== undefined) tiers[name].throttleWhenNoisy = tier.throttleWhenNoisy;
      }
    }
  }
  // Own keys only: `tier: constructor` must not pass as a tier through Object.prototype.
  const declaredTiers = doc.tiers && typeof doc.tiers === 'object' && !Array.isArray(doc.tiers) ? Object.keys(doc.tiers) : [];
  const seen = new Set<string>();
  (Array.isArray(doc.tenants) ? doc.tenants : []).forEach((t, i) => {
    const key = `tenants.${i}`;
    const who = `(tenant "${t?.id}")`;
    if (!t || typeof t !== 'object') return;
    if (seen.has(t.id)) problems.push(`${key}.id: duplicate tenant id ${who}`);
    seen.add(t.id);
    if (!t.tier && !t.strategy) problems.push(`${key}: name a tier or a strategy ${who}`);
    if (t.tier && !declaredTiers.includes(t.tier)) {
      problems.push(`${key}.tier: unknown tier "${t.tier}" ${who}; known tiers: ${declaredTiers.join(', ') || 'none'}`);
    }
    const model = t.strategy ?? (t.tier && Object.hasOwn(tiers, t.tier) ? tiers[t.tier].strategy : undefined);
    if (t.server && model !== 'database') problems.push(`${key}.server: only the database model takes a server ${who}`);
    if (t.server && !servers.includes(t.server)) {
      problems.push(
        `${key}.server: unknown server "${t.server}" ${who}; known servers: ${servers.join(', ')} (extra servers come from ${names.servers ?? 'servers'})`,
      );
    }
  });
  if (problems.length) throw new TenancyConfigError(file, problems);
  return {
    tiers,
    ...(doc.prices ? { prices: givenPrices(doc.prices) } : {}),
    tenants: doc.tenants.map((t) => ({ id: t.id, name: t.name, tier: t.tier, strategy: t.strategy, server: t.server })),
  };
}

/**
 * Reads and validates a tenants YAML file (`tiers` and `tenants`, see `TenantsDefinition`).
 * `servers`: the server names a tenant may name (default `['default']`); `names`: how the app's
 * messages name its settings.
 * @throws TenancyConfigError naming every problem (unreadable file, invalid YAML, each bad key).
 */
export function loadTenantsFile(file: string, servers?: string[], names: ConfigNames = {}): TenantsDefinition {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const fix = names.tenantsFile ? `set ${names.tenantsFile} to its path` : 'give loadTenantsFile the path of a readable file';
    throw new TenancyConfigError(file, [`cannot read the file (${(err as NodeJS.ErrnoException).code}); ${fix}`]);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new TenancyConfigError(file, [`not valid YAML: ${errorMessage(err).split('\n')[0]}`]);
  }
  return validateTenantsDefinition(raw, file, servers, names);
}

/**
 * Parses a server list, `name=postgres://...,other=postgres://...`, into the `servers` option.
 * Unset or empty: no extra server. Messages name the list `names.servers` (default `servers`).
 * @throws TenancyConfigError for a malformed entry, a repeated name, or `default` (reserved).
 */
export function parseServerList(value: string | undefined, names: ConfigNames = {}): Record<string, string> {
  const list = names.servers ?? 'servers';
  const servers: Record<string, string> = {};
  for (const part of (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = part.indexOf('=');
    const name = part.slice(0, at).trim();
    const url = part.slice(at + 1).trim();
    if (at < 1 || !/^[a-z0-9_-]+$/.test(name) || !/^postgres(ql)?:\/\//.test(url)) {
      throw new TenancyConfigError(list, [`entry "${part.split('=')[0]}" must read name=postgres://user:password@host:port/database`]);
    }
    // `default` is databaseUrl, and a repeated name would silently replace the first URL.
    if (name === 'default')
      throw new TenancyConfigError(list, [`entry "default" is reserved: the default server is ${names.defaultServer ?? 'databaseUrl'}`]);
    if (Object.hasOwn(servers, name)) throw new TenancyConfigError(list, [`server "${name}" is named twice`]);
    servers[name] = url;
  }
  return servers;
}
