import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { JWTPayload } from 'jose';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { nodeRequest } from '../core/node-http';
import { JwtTenantSource } from './jwt.source';
import type { TenantRequest } from '../config/tenant-source';

/** The role claim value that opens the admin API. */
export const SUPER_ADMIN_ROLE = 'super_admin';

function roles(payload: JWTPayload): string[] {
  const value = payload.role ?? payload.roles;
  return Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)];
}

/**
 * Guards the admin API: a verified bearer token whose `role` (or `roles`) claim holds
 * `super_admin`. No token or an invalid one is 401; a valid token without the role (a tenant
 * user's) is 403. Without JWT configuration the admin API stays closed.
 */
@Injectable()
export class SuperAdminGuard implements CanActivate {
  private readonly jwt?: JwtTenantSource;

  constructor(@Inject(TENANCY_OPTIONS) options: ResolvedTenancyOptions) {
    this.jwt = options.resolution.jwt ? new JwtTenantSource(options.resolution.jwt) : undefined;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = nodeRequest(context.switchToHttp().getRequest<TenantRequest | { raw: TenantRequest }>());
    if (!this.jwt)
      throw new UnauthorizedException(
        'The admin API is closed: it needs a verified bearer token, and TenancyModule has no resolution.jwt.secret or resolution.jwt.jwksUrl configured.',
      );
    const payload = await this.jwt.verify(req);
    if (!payload) throw new UnauthorizedException('The admin API needs a bearer token with the super_admin role.');
    if (!roles(payload).includes(SUPER_ADMIN_ROLE)) throw new ForbiddenException('This token does not carry the super_admin role.');
    return true;
  }
}
