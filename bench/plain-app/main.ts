/**
 * The plain single-tenant app `npm run bench` measures the kit against: NestJS (serve.ts), TypeORM
 * on one pool. Environment: DATABASE_URL (its own database), PORT, PLAIN_POOL_MAX (10),
 * HTTP_PLATFORM (express). Stops on SIGTERM/SIGINT, closing its pool.
 */
import { PlainAppModule } from './app.module';
import { serve } from './serve';

serve(PlainAppModule);
