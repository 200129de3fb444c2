package gsstore

import (
	"context"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	gcs "cloud.google.com/go/storage"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
	"google.golang.org/api/option"
)

// sdkAttempts is small because storage.RetryPolicy retries on top of it.
const sdkAttempts = 3

// NoCredentialsError says that no Google credentials were found, and how
// to provide them, in one line (the cause stays reachable by errors.As).
type NoCredentialsError struct{ cause error }

func (NoCredentialsError) Error() string {
	return "no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, " +
		"or run `gcloud auth application-default login`; on Google Cloud, attach a service account"
}

// Unwrap makes it match storage.ErrAuth.
func (e NoCredentialsError) Unwrap() []error { return []error{storage.ErrAuth, e.cause} }

// newClient builds the GCS client over the process's shared connection
// pool: authenticated with the application default credentials, or
// unauthenticated against an emulator.
func newClient(ctx context.Context, loc location) (*gcs.Client, *httpx.Client, error) {
	hc, err := httpx.New(httpx.Options{Timeout: loc.timeout})
	if err != nil {
		return nil, nil, err
	}
	var opts []option.ClientOption
	if loc.endpoint != "" {
		opts = append(opts, option.WithEndpoint(loc.endpoint+"/storage/v1/"),
			option.WithoutAuthentication(), option.WithHTTPClient(hc.HTTP))
	} else {
		creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{gcs.ScopeFullControl}})
		if err != nil {
			hc.Close()
			return nil, nil, NoCredentialsError{cause: err}
		}
		authed, err := httptransport.NewClient(&httptransport.Options{Credentials: creds, BaseRoundTripper: hc.HTTP.Transport})
		if err != nil {
			hc.Close()
			return nil, nil, NoCredentialsError{cause: err}
		}
		opts = append(opts, option.WithHTTPClient(authed), option.WithAuthCredentials(creds))
	}
	client, err := gcs.NewClient(ctx, opts...)
	if err != nil {
		hc.Close()
		return nil, nil, err
	}
	client.SetRetry(gcs.WithMaxAttempts(sdkAttempts), gcs.WithErrorFunc(func(err error) bool {
		// Stalls and range faults are retried by the storage layer.
		return !httpx.Handled(err) && gcs.ShouldRetry(err)
	}))
	return client, hc, nil
}
