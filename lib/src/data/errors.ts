/**
 * Thrown when a dataset file or folder is missing, truncated or corrupt; the message says what was
 * expected, where it was looked for, and how to get the data.
 */
export class DataError extends Error {
  override name = "DataError";
}

/** How to get the full Fashion-MNIST, appended to every Fashion-MNIST error. */
export const FASHION_MNIST_HELP =
  "To get the full Fashion-MNIST, install Debian's package (apt-get install dataset-fashion-mnist), which puts " +
  "the four idx .gz files in /usr/share/datasets/fashion-mnist, or download train-images-idx3-ubyte.gz, " +
  "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from the Fashion-MNIST " +
  "repository (github.com/zalandoresearch/fashion-mnist, folder data/fashion) and set FASHION_MNIST_DIR to " +
  "their folder. With neither, loadFashionMnist() reads the embedded subset in data/fashion-mnist-subset.";

/** How to repair the embedded subset, appended to its errors. */
export const EMBEDDED_HELP =
  "The embedded subset is part of the repository: restore it with `git checkout -- data/fashion-mnist-subset`, " +
  "or rebuild it from the full files with `npm run data:subset`.";

/** How to get CIFAR-10, appended to every CIFAR-10 error. */
export const CIFAR10_HELP =
  "To get CIFAR-10, download the binary version (cifar-10-binary.tar.gz, 'CIFAR-10 binary version (suitable " +
  "for C programs)') from www.cs.toronto.edu/~kriz/cifar.html, unpack it (tar xzf cifar-10-binary.tar.gz) and " +
  "set CIFAR10_DIR to the folder that holds cifar-10-batches-bin (or to cifar-10-batches-bin itself). The " +
  "python and matlab versions are a different format and are not read.";
