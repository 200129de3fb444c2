package absstore

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
)

// sdkRetries is small because storage.RetryPolicy retries on top of it.
const sdkRetries = 2

// NoCredentialsError says no Azure credentials could be set up, and how to
// provide them, in one line (the cause stays reachable by errors.As).
type NoCredentialsError struct{ cause error }

func (NoCredentialsError) Error() string {
	return "no Azure credentials found: set " + KeyEnv + " (with the account in the URL or " + AccountEnv + "), " +
		ConnectionStringEnv + ", or " + SASTokenEnv + "; or sign in for the default credential chain (AZURE_CLIENT_ID..., managed identity, az login)"
}

// Unwrap makes it match storage.ErrAuth.
func (e NoCredentialsError) Unwrap() []error { return []error{storage.ErrAuth, e.cause} }

// newClient builds the Blob client over the process's shared connection
// pool. Credentials, first found first used (Litestream's order, then
// Azure's own variables): key if not empty; a SAS token
// (LITESTREAM_AZURE_SAS_TOKEN, AZURE_STORAGE_SAS_TOKEN); an account key
// (AZURE_STORAGE_KEY, LITESTREAM_AZURE_ACCOUNT_KEY); a connection string
// (AZURE_STORAGE_CONNECTION_STRING, which also names the account and the
// endpoint, when the URL has no endpoint=); the default Azure credential
// chain (environment, workload or managed identity, az login).
func newClient(loc location, hc *httpx.Client, key string) (*azblob.Client, error) {
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: hc.HTTP,
		Retry: policy.RetryOptions{
			MaxRetries:    sdkRetries,
			RetryDelay:    200 * time.Millisecond,
			MaxRetryDelay: 2 * time.Second,
			ShouldRetry:   shouldRetry,
		},
		Telemetry: policy.TelemetryOptions{ApplicationID: "strata"},
		// Azurite and test endpoints speak plain http.
		InsecureAllowCredentialWithHTTP: true,
	}}
	sas := firstEnv(LitestreamSASEnv, SASTokenEnv)
	if key == "" && sas == "" {
		key = firstEnv(KeyEnv, LitestreamKeyEnv)
	}
	switch cs := os.Getenv(ConnectionStringEnv); {
	case key != "":
		if loc.account == "" {
			return nil, NoCredentialsError{cause: errors.New("an account key without an account")}
		}
		cred, err := azblob.NewSharedKeyCredential(loc.account, key)
		if err != nil {
			return nil, NoCredentialsError{cause: fmt.Errorf("%s is not a valid account key", KeyEnv)}
		}
		return azblob.NewClientWithSharedKeyCredential(loc.serviceURL(), cred, opts)
	case sas != "":
		if loc.account == "" && loc.endpoint == "" {
			return nil, NoCredentialsError{cause: errors.New("a SAS token without an account")}
		}
		c, err := azblob.NewClientWithNoCredential(loc.serviceURL()+"?"+strings.TrimPrefix(sas, "?"), opts)
		if err != nil {
			return nil, NoCredentialsError{cause: errors.New("the SAS token cannot be used")}
		}
		return c, nil
	case cs != "" && loc.endpoint == "":
		c, err := azblob.NewClientFromConnectionString(cs, opts)
		if err != nil {
			// The error may quote the string: say only where it came from.
			return nil, NoCredentialsError{cause: fmt.Errorf("%s cannot be parsed", ConnectionStringEnv)}
		}
		return c, nil
	}
	if loc.account == "" && loc.endpoint == "" {
		return nil, NoCredentialsError{cause: errors.New("no storage account")}
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: hc.HTTP},
	})
	if err != nil {
		return nil, NoCredentialsError{cause: err}
	}
	return azblob.NewClient(loc.serviceURL(), cred, opts)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// shouldRetry is the SDK's retry rule: throttling and server errors, and
// network errors other than the stalls and range faults that the storage
// layer retries itself.
func shouldRetry(resp *http.Response, err error) bool {
	if err != nil {
		return !httpx.Handled(err) && !errors.Is(err, storage.ErrAuth)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
