import { BadRequestException, PipeTransform } from '@nestjs/common';
import { isValidTenantId } from '../../libs/tenancy/src';

/** A route's `:id` tenant id, checked for its format (400 when malformed) before any lookup. */
export class TenantIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isValidTenantId(value)) throw new BadRequestException('The tenant id is malformed.');
    return value;
  }
}
