package s3store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
)

// sdkAttempts is small because storage.RetryPolicy retries on top of it.
const sdkAttempts = 3

// Litestream's names for the access key, honoured when the AWS ones are
// not set (Litestream does the same).
const (
	AccessKeyEnv = "LITESTREAM_ACCESS_KEY_ID"
	SecretKeyEnv = "LITESTREAM_SECRET_ACCESS_KEY"
)

func loadConfig(ctx context.Context, loc location, extra []func(*config.LoadOptions) error) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(newRetryer),
		// The SDK's own log lines (IMDS fallbacks, checksum notices) are
		// noise for a user; errors come back through the calls.
		config.WithLogger(logging.Nop{}),
		config.WithClientLogMode(0),
		// Range reads cannot be checksum-validated, and many S3-compatible
		// servers do not return checksums; "when required" keeps the SDK
		// from warning about either.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if loc.region != "" {
		opts = append(opts, config.WithRegion(loc.region))
	}
	if loc.endpoint != "" {
		// Instance-role credentials are for AWS itself; probing IMDS off
		// EC2 only delays the "no credentials" error.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv(AccessKeyEnv) != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			os.Getenv(AccessKeyEnv), os.Getenv(SecretKeyEnv), "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(opts, extra...)...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Credentials != nil {
		cfg.Credentials = aws.NewCredentialsCache(credentialsGuard{cfg.Credentials})
	} else {
		cfg.Credentials = credentialsGuard{}
	}
	return cfg, nil
}

func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = sdkAttempts
		o.MaxBackoff = time.Second
		// The client-side retry quota would turn a long outage into
		// "quota exceeded" errors that hide the real cause.
		o.RateLimiter = ratelimit.None
		// Stalls and range faults are retried by the storage layer's
		// policy; retrying them here too would multiply the wait.
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if httpx.Handled(err) || errors.Is(err, storage.ErrAuth) {
				return aws.FalseTernary
			}
			return aws.UnknownTernary
		})}, o.Retryables...)
	})
}

// NoCredentialsError is how every request fails when no credentials can
// be found: one line that says what to set, instead of the SDK's chain of
// provider errors (which stays reachable through errors.As).
type NoCredentialsError struct{ cause error }

func (NoCredentialsError) Error() string {
	return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY " +
		"(or LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY), or AWS_PROFILE; on AWS compute, attach a role"
}

// Unwrap makes it match storage.ErrAuth.
func (e NoCredentialsError) Unwrap() []error {
	if e.cause == nil {
		return []error{storage.ErrAuth}
	}
	return []error{storage.ErrAuth, e.cause}
}

// credentialsGuard turns any failure to find credentials into a
// NoCredentialsError.
type credentialsGuard struct{ inner aws.CredentialsProvider }

func (g credentialsGuard) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if g.inner == nil {
		return aws.Credentials{}, NoCredentialsError{}
	}
	c, err := g.inner.Retrieve(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return c, err
		}
		return c, NoCredentialsError{cause: err}
	}
	return c, nil
}

// checkCredentials fails early, with advice, when no credentials exist:
// otherwise the first request would fail after its retries.
func checkCredentials(ctx context.Context, cfg aws.Config, loc location) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		var noCreds NoCredentialsError
		if errors.As(err, &noCreds) {
			err = noCreds // without the cache's "failed to refresh" prefix
		}
		return fmt.Errorf("%s: %w", loc, err)
	}
	return nil
}

func newClient(cfg aws.Config, loc location, hc *httpx.Client) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if loc.endpoint != "" {
			o.BaseEndpoint = aws.String(loc.endpoint)
		}
		o.UsePathStyle = loc.pathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
		// One connection pool per process, with the request watchdog.
		o.HTTPClient = hc.HTTP
	})
}
