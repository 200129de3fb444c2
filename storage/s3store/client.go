package s3store

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// sdkAttempts is small because storage.RetryPolicy retries on top of it.
const sdkAttempts = 3

// httpClient must stay a *BuildableClient: the SDK can only add
// AWS_CA_BUNDLE to a client it knows how to rebuild. Each store ends up
// with its own copy, hence its own connection pool.
var httpClient = awshttp.NewBuildableClient().
	WithDialerOptions(func(d *net.Dialer) { d.Timeout = 5 * time.Second }).
	WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 64
		t.IdleConnTimeout = 90 * time.Second
		t.TLSHandshakeTimeout = 10 * time.Second
		// A PUT's answer comes after its body, so this bounds server
		// think-time, not transfer time.
		t.ResponseHeaderTimeout = 60 * time.Second
	})

func loadConfig(ctx context.Context, loc location, extra []func(*config.LoadOptions) error) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(newRetryer),
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
	cfg, err := config.LoadDefaultConfig(ctx, append(opts, extra...)...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
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
	})
}

// checkCredentials fails early, with advice, when no credentials exist:
// otherwise the first request would fail with an obscure SDK message.
func checkCredentials(ctx context.Context, cfg aws.Config, loc location) error {
	if cfg.Credentials == nil {
		return fmt.Errorf("%s: no AWS credentials configured", loc)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return fmt.Errorf("%s: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): %w", loc, err)
	}
	return nil
}

func newClient(cfg aws.Config, loc location) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if loc.endpoint != "" {
			o.BaseEndpoint = aws.String(loc.endpoint)
		}
		o.UsePathStyle = loc.pathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}
