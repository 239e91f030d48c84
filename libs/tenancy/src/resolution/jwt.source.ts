import { createRemoteJWKSet, JWTPayload, jwtVerify } from 'jose';
import type { JwtResolutionOptions } from '../config/tenancy-options';
import { InvalidTenantClaimError, InvalidTenantTokenError } from '../errors/tenancy.errors';
import type { TenantRequest, TenantSource } from '../config/tenant-source';

/** Where the verified payload is left on the request, for the app's own guards. */
export const VERIFIED_JWT = Symbol.for('nest-tenancy:verified-jwt');

/**
 * The tenant id from a claim of a verified bearer token (HS256/384/512 shared secret or a JWKS
 * endpoint). A token that is present but does not verify is refused with 401; it is never ignored.
 * A tenant claim that is present but not a string is 401 too (`InvalidTenantClaimError`).
 */
export class JwtTenantSource implements TenantSource {
  readonly name = 'jwt' as const;
  readonly description: string;
  private readonly key: Uint8Array | ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly options: JwtResolutionOptions & { claim: string }) {
    this.description = `the "${options.claim}" claim of a bearer token`;
    this.key = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : new TextEncoder().encode(options.secret);
  }

  async read(req: TenantRequest & { [VERIFIED_JWT]?: JWTPayload }): Promise<string | undefined> {
    const payload = await this.verify(req);
    if (!payload) return undefined;
    const claim = payload[this.options.claim];
    if (claim === undefined) return undefined;
    // null, 42, ["acme"] are not tenant ids: never turned into strings (a tenant named 'null').
    if (typeof claim !== 'string') throw new InvalidTenantClaimError(this.options.claim);
    return claim;
  }

  /** The verified payload of the request's bearer token, or undefined when it carries none. */
  async verify(req: TenantRequest & { [VERIFIED_JWT]?: JWTPayload }): Promise<JWTPayload | undefined> {
    if (req[VERIFIED_JWT]) return req[VERIFIED_JWT];
    const header = req.headers.authorization;
    if (!header) return undefined;
    // The scheme is case-insensitive (RFC 9110 §11.1): "bearer <token>" is the same credential.
    const match = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i.exec(header);
    if (!match) throw new InvalidTenantTokenError();
    try {
      const { payload } = await jwtVerify(match[1], this.key as Uint8Array, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: this.options.jwksUrl ? undefined : ['HS256', 'HS384', 'HS512'],
      });
      req[VERIFIED_JWT] = payload;
      return payload;
    } catch {
      throw new InvalidTenantTokenError();
    }
  }
}
